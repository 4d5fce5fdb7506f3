/**
 * How the bench backends get into inteli-proxy's registry. This is the one place to switch between the
 * two ways:
 * - `registry`: the proxy child calls `proxy.registry.add(...)` directly (no control plane in the path);
 * - `agent`: the backends child runs one real `ProxyWebServer` agent per backend that dials the proxy's
 *   control plane, authenticates and registers (what users do).
 */
import type { ProxyServer } from '../../src/proxy/proxy-server.js';

/** Which registration path the bench uses. */
export type RegistrationMode = 'registry' | 'agent';

/** The mode in use; see the module comment. */
export const REGISTRATION_MODE: RegistrationMode = 'registry';

/** First port of the never-contacted fake targets of the scale scenario (below the ephemeral range). */
const FAKE_PORT_BASE = 20_000;

/** Registers the real backends (catch-all rule `/`, round-robin over both). */
export function registerDirectly(proxy: ProxyServer, backendPorts: readonly number[]): void {
  backendPorts.forEach((port, index) => {
    proxy.registry.add({
      agentId: `bench-backend-${index}`,
      targets: [{ protocol: 'http', host: '127.0.0.1', port }],
      rules: [{ path: '/' }],
    });
  });
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
