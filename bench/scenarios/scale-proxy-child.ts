/**
 * The proxy of the `agents`, `storm` and `clients` scenarios: a `ProxyServer` in its own process with the
 * real WSS control plane (the certificate the parent generated, so a restarted proxy keeps its pin) and the
 * file trust store in `certstore` (as `npm start` runs it), seeded once from the parent's setup file in one
 * `addMany`. Fixed ports and the same store, so that a restarted proxy is where the agents reconnect to,
 * with the keys imported before the restart. Answers the parent over IPC:
 * - `wait-routed {count}` -> `routed {at, size}` once the registry holds `count` backends (`at`: epoch ms);
 * - `stats` -> `stats` (memory, CPU, sessions, backends, control-plane counters); `gc` first when `gc: true`.
 * With `redis` (the `fleet` scenario) the trust store is the fleet's Redis instead, and every backend
 * removed because its key was revoked is reported as `revoked {agentId, at}` (`at`: epoch ms, sub-ms).
 */
import { readFileSync } from 'node:fs';
import { ProxyServer } from '../../src/proxy/proxy-server.js';
import type { AddKeyInput } from '../../src/shared/trust/trusted-key.js';
import { TrustStore } from '../../src/shared/trust/index.js';
import { childArgs, runChild, sendToParent } from '../lib/child-runtime.js';

/** Arguments from the parent. */
export interface ScaleProxyArgs {
  /** Data-plane port on 127.0.0.1 (0 = any). */
  readonly port: number;
  /** Control-plane port on 127.0.0.1 (0 = any). */
  readonly controlPort: number;
  /** JSON file: `{ cert, key, keys: AddKeyInput[] }`; keys already in the store are left alone. */
  readonly setupFile: string;
  /** Directory of the file trust store. */
  readonly certstore: string;
  /** The fleet scenario: trust store, replay cache and membership on this Redis, as node `nodeId`. */
  readonly redis?: { readonly url: string; readonly nodeId: string };
  /** Control-plane limits to override (the scenarios run with the defaults unless told otherwise). */
  readonly limits?: Record<string, number>;
}

/** What the child reports when ready. */
export interface ScaleProxyReady {
  readonly port: number;
  readonly controlUrl: string;
  readonly pin: string;
  /** Epoch ms at which both listeners were up. */
  readonly listeningAt: number;
  /** Milliseconds opening (and seeding) the trust store took. */
  readonly keysMs: number;
}

/** What `stats` answers. */
export interface ScaleProxyStats {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
  readonly sessions: number;
  readonly backends: number;
  readonly upgradesAccepted: number;
  readonly upgradesRefused: Readonly<Record<string, number>>;
  readonly limitBreaches: Readonly<Record<string, number>>;
  readonly evictions: number;
  readonly registrations: number;
}

interface Setup {
  readonly cert: string;
  readonly key: string;
  readonly keys: AddKeyInput[];
}

runChild<ScaleProxyReady>(async () => {
  const { port, controlPort, setupFile, certstore, limits, redis } = childArgs<ScaleProxyArgs>();
  const setup = JSON.parse(readFileSync(setupFile, 'utf8')) as Setup;
  const keysStarted = performance.now();
  const fileStore = redis === undefined ? await TrustStore.open(certstore) : undefined;
  const proxy = new ProxyServer({
    host: '127.0.0.1',
    port,
    trustStore: fileStore ?? { redis: { url: redis!.url, nodeId: redis!.nodeId } },
    control: { host: '127.0.0.1', port: controlPort, tls: { cert: setup.cert, key: setup.key }, ...(limits === undefined ? {} : { limits }) },
  });
  await proxy.start();
  const trustStore = proxy.trustStore!;
  const missing = setup.keys.filter((input) => trustStore.get(input.id) === undefined);
  if (missing.length > 0) {
    const added = trustStore.addMany === undefined || redis !== undefined ? await Promise.allSettled(missing.map((input) => trustStore.add(input))) : await trustStore.addMany(missing.map((input) => ({ input })));
    const failed = added.find((result) => result instanceof Error || (typeof result === 'object' && 'status' in result && result.status === 'rejected'));
    if (failed !== undefined) throw failed instanceof Error ? failed : new Error(`seeding the trust store failed: ${String((failed as PromiseRejectedResult).reason)}`);
  }
  const keysMs = performance.now() - keysStarted;
  proxy.on('backend_removed', (backend, reason) => {
    if (reason === 'revoked') sendToParent('revoked', { agentId: backend.agentId, at: performance.timeOrigin + performance.now() });
  });
  const listeningAt = Date.now();
  const waiters: Array<{ count: number; done: () => void }> = [];
  const checkWaiters = (): void => {
    for (let i = waiters.length - 1; i >= 0; i -= 1) {
      if (proxy.registry.size >= waiters[i]!.count) waiters.splice(i, 1)[0]!.done();
    }
  };
  proxy.on('backend_added', checkWaiters);
  process.on('message', (message: unknown) => {
    const typed = message as { type?: unknown; count?: unknown; gc?: unknown } | null;
    if (typed === null || typeof typed !== 'object') return;
    if (typed.type === 'wait-routed' && typeof typed.count === 'number') {
      waiters.push({ count: typed.count, done: () => sendToParent('routed', { at: Date.now(), size: proxy.registry.size }) });
      checkWaiters();
    } else if (typed.type === 'stats') {
      const collect = globalThis.gc;
      if (typed.gc === true && collect !== undefined) collect();
      const memory = process.memoryUsage();
      const cpu = process.cpuUsage();
      const control = proxy.controlPlane!.stats();
      sendToParent('stats', {
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        externalBytes: memory.external,
        cpuUserUs: cpu.user,
        cpuSystemUs: cpu.system,
        sessions: control.sessions,
        backends: proxy.registry.size,
        upgradesAccepted: control.upgradesAccepted,
        upgradesRefused: control.upgradesRefused,
        limitBreaches: control.limitBreaches,
        evictions: control.evictions,
        registrations: control.registrations,
      } satisfies ScaleProxyStats);
    }
  });
  return {
    ready: { port: proxy.addresses.http!.port, controlUrl: proxy.controlPlane!.url, pin: proxy.pin!, listeningAt, keysMs },
    stop: async () => {
      await proxy.stop();
      await fileStore?.stop();
    },
  };
});
