/**
 * A real control plane for integration tests: a TLS pair generated at test time, an in-memory trust
 * store (or a given one), a fresh registry, port 0 on 127.0.0.1, small intervals. `keys` makes trusted
 * key pairs and signs fresh tokens for them.
 */
import { BackendRegistry } from '../../src/proxy/registry/backend-registry.js';
import { ControlPlane, type ControlPlaneOptions } from '../../src/proxy/control-plane/control-plane.js';
import { TrustStore } from '../../src/shared/trust/index.js';
import { generateKeyPair, type Ed25519PrivateJwk } from '../../src/shared/identity/key-pair.js';
import { signToken } from '../../src/shared/identity/sign-token.js';
import type { KeyRole, KeyScope } from '../../src/shared/protocol.js';
import { generateDevCertificate, type PemPair } from '../../src/shared/tls/dev-certificate.js';
import type { ControlClient} from './control-plane-client.js';
import { dial, tryDial, withTimeout, type DialOptions, type DialOutcome } from './control-plane-client.js';

let pemPair: Promise<PemPair> | undefined;

/** One dev certificate per test file (generation takes a moment). */
export function testCertificate(): Promise<PemPair> {
  pemPair ??= generateDevCertificate();
  return pemPair;
}

/** A trusted key with its private half. */
export interface TestKey {
  readonly id: string;
  readonly privateJwk: Ed25519PrivateJwk;
}

/** A running control plane and what tests need around it. */
export interface ControlPlaneFixture {
  readonly controlPlane: ControlPlane;
  readonly registry: BackendRegistry;
  readonly trustStore: TrustStore;
  readonly cert: PemPair;
  readonly url: string;
  /**
   * Trusts a new key pair. Default role `agent` and scope `{}` (no rules: pass `scope.rules` to register).
   * A scope with rules but no hosts gets loopback hosts, unless `ownAddressOnly`.
   */
  addKey(id: string, options?: { role?: KeyRole; scope?: KeyScope; ownAddressOnly?: boolean }): Promise<TestKey>;
  /** A fresh token for a key. */
  token(key: TestKey, options?: { audience?: string; ttlSeconds?: number; now?: () => number }): Promise<string>;
  /** Dials with a fresh token of `key` (and the CA). */
  connect(key: TestKey, options?: DialOptions): Promise<ControlClient>;
  /** Dials and reports the outcome. */
  tryConnect(options: DialOptions): Promise<DialOutcome>;
  /** Closes every client opened through the fixture, then stops the control plane. */
  close(): Promise<void>;
}

/** Options beyond the control plane's: */
export type FixtureOptions = Partial<Omit<ControlPlaneOptions, 'registry' | 'trustStore'>> & { trustStore?: TrustStore };

/** Starts a control plane on 127.0.0.1:0 with TLS and fast timers (overridable). */
export async function startControlPlane(options: FixtureOptions = {}): Promise<ControlPlaneFixture> {
  const cert = await testCertificate();
  const registry = new BackendRegistry();
  const trustStore = options.trustStore ?? TrustStore.inMemory();
  const controlPlane = new ControlPlane({
    host: '127.0.0.1',
    port: 0,
    tls: cert,
    heartbeatIntervalMs: 1000,
    closeTimeoutMs: 500,
    ...options,
    registry,
    trustStore,
  });
  await controlPlane.start();
  const url = controlPlane.url;
  const clients = new Set<ControlClient>();
  const track = (client: ControlClient): ControlClient => {
    clients.add(client);
    return client;
  };
  const token = (key: TestKey, tokenOptions: { audience?: string; ttlSeconds?: number; now?: () => number } = {}): Promise<string> =>
    signToken(key.privateJwk, { subject: key.id, audience: tokenOptions.audience ?? controlPlane.audience, ttlSeconds: tokenOptions.ttlSeconds ?? 60, ...(tokenOptions.now === undefined ? {} : { now: tokenOptions.now }) });
  return {
    controlPlane,
    registry,
    trustStore,
    cert,
    url,
    async addKey(id, keyOptions = {}) {
      const { privateJwk, publicJwk } = await generateKeyPair(id);
      // Test agents dial from loopback, and a loopback agent may name only granted targets (issue 14):
      // a scope with rules and no hosts is granted loopback here, unless `ownAddressOnly` keeps the default.
      const scope = keyOptions.scope ?? {};
      const granted = scope.rules !== undefined && scope.hosts === undefined && keyOptions.ownAddressOnly !== true ? { ...scope, hosts: ['127.0.0.1', '::1', 'localhost'] } : scope;
      await trustStore.add({ id, publicKey: publicJwk, role: keyOptions.role ?? 'agent', scope: granted });
      return { id, privateJwk };
    },
    token,
    async connect(key, dialOptions = {}) {
      return track(await dial(url, { ca: cert.cert, token: await token(key), ...dialOptions }));
    },
    async tryConnect(dialOptions) {
      const outcome = await tryDial(url, { ca: cert.cert, ...dialOptions });
      if (outcome.ok) track(outcome.client);
      return outcome;
    },
    async close() {
      await Promise.all([...clients].map((client) => client.close()));
      await controlPlane.stop();
    },
  };
}

/** A register frame for a loopback target. */
export function registerFrame(rules: unknown[], port = 4000, host = '127.0.0.1'): Record<string, unknown> {
  return { type: 'register', targets: [{ host, port, protocol: 'http' }], rules };
}

/** Resolves with the arguments of the next `event` on `emitter` (guarded by a timeout). */
export function nextEvent<T extends unknown[] = unknown[]>(
  emitter: { once(event: string, listener: (...args: never[]) => void): unknown; off(event: string, listener: (...args: never[]) => void): unknown },
  event: string,
  timeoutMs = 5000,
): Promise<T> {
  let listener: ((...args: never[]) => void) | undefined;
  return withTimeout(
    new Promise<T>((resolve) => {
      listener = (...args: never[]) => resolve(args as unknown as T);
      emitter.once(event, listener);
    }),
    timeoutMs,
    `event ${event}`,
  ).finally(() => {
    if (listener !== undefined) emitter.off(event, listener);
  });
}
