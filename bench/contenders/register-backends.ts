/**
 * How the bench backends get into inteli-proxy's registry. This is the one place to switch between the
 * two ways:
 * - `agent` (default): the proxy runs its control plane (plain ws on loopback) with an in-memory trust
 *   store that trusts one generated key per backend; the backends child then runs one real
 *   `ProxyWebServer` agent per backend that dials it, authenticates and registers (what users do).
 * - `registry`: the proxy runs without a control plane and the bench calls `proxy.registry.add(...)`.
 * The scale scenario's fake targets and the cluster workers always use `registry`.
 */
import type { ProxyServerOptions } from '../../src/proxy/proxy-options.js';
import { TrustStore } from '../../src/shared/trust/index.js';
import type { ProxyServer } from '../../src/proxy/proxy-server.js';
import { generateKeyPair, type Ed25519PrivateJwk } from '../../src/shared/identity/key-pair.js';

/** Which registration path the bench uses. */
export type RegistrationMode = 'registry' | 'agent';

/** The mode in use unless `--register` says otherwise; see the module comment. */
export const DEFAULT_REGISTRATION_MODE: RegistrationMode = 'agent';

/** What the backends child needs to run agents: the control-plane URL and one key per backend. */
export interface AgentCredentials {
  readonly url: string;
  readonly agents: readonly { readonly id: string; readonly privateJwk: Ed25519PrivateJwk }[];
}

/** First port of the never-contacted fake targets of the scale scenario (below the ephemeral range). */
const FAKE_PORT_BASE = 20_000;

/** Registers the real backends directly (catch-all rule `/`, round-robin over both). */
export function registerDirectly(proxy: Pick<ProxyServer, 'registry'>, backendPorts: readonly number[]): void {
  backendPorts.forEach((port, index) => {
    proxy.registry.add({
      agentId: `bench-backend-${index}`,
      targets: [{ protocol: 'http', host: '127.0.0.1', port }],
      rules: [{ path: '/' }],
    });
  });
}

/** `ProxyServer` options for a mode: data plane on 127.0.0.1 port 0, control plane only for agents. */
export function proxyOptions(mode: RegistrationMode): ProxyServerOptions {
  if (mode === 'registry') return { host: '127.0.0.1', port: 0, control: false };
  // Plain ws on loopback: the bench measures the data plane, and TLS would only slow the agents' start.
  return { host: '127.0.0.1', port: 0, control: { host: '127.0.0.1', port: 0, insecure: true }, trustStore: TrustStore.inMemory() };
}

/**
 * Trusts `count` fresh agent keys, allowed to register rule `/` on 127.0.0.1, in the started proxy's trust
 * store, and returns what the agents need to dial its control plane.
 */
export async function trustAgents(proxy: ProxyServer, count: number): Promise<AgentCredentials> {
  const trustStore = proxy.trustStore;
  const url = proxy.controlPlane?.url;
  if (trustStore === undefined || url === undefined) throw new Error('the proxy runs no control plane');
  const agents = await Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const id = `bench-agent-${index}`;
      const { privateJwk, publicJwk } = await generateKeyPair(id);
      await trustStore.add({ id, publicKey: publicJwk, role: 'agent', scope: { rules: ['/'], hosts: ['127.0.0.1'] } });
      return { id, privateJwk };
    }),
  );
  return { url, agents };
}

/**
 * The scale scenario: `rules` extra backends, each with its own rule `/svc-<i>` and `targets / rules`
 * targets that are never contacted (no request matches their rules). Resolves to the milliseconds the
 * registrations took, including the routing-table rebuilds they trigger (the data plane coalesces
 * registry changes per microtask, so the clock stops after the next macrotask).
 */
export async function registerScale(proxy: ProxyServer, targets: number, rules: number): Promise<number> {
  const perRule = Math.max(1, Math.round(targets / rules));
  const startedAt = performance.now();
  for (let rule = 0; rule < rules; rule += 1) {
    const fakeTargets = Array.from({ length: perRule }, (_, index) => ({
      protocol: 'http' as const,
      host: '127.0.0.1',
      port: FAKE_PORT_BASE + ((rule * perRule + index) % 10_000),
    }));
    proxy.registry.add({ agentId: `bench-scale-${rule}`, targets: fakeTargets, rules: [{ path: `/svc-${rule}` }] });
  }
  await new Promise((resolve) => setImmediate(resolve));
  return performance.now() - startedAt;
}
