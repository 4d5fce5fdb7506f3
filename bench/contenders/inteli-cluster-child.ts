/**
 * inteli-proxy on both cores: the proxy's own cluster mode (`ClusterPrimary`, what `PROXY_WORKERS=2`
 * runs). The primary holds the registry and forks N workers, each a data plane on the shared port that
 * mirrors the registry; the bench registers the backends on the primary's registry and waits until a
 * request through the shared port is routed.
 */
import { request } from 'node:http';
import { ClusterPrimary } from '../../src/proxy/cluster/cluster-primary.js';
import { childArgs, runChild } from '../lib/child-runtime.js';
import type { ForwarderArgs, ForwarderReady } from './forwarder-args.js';
import { registerDirectly } from './register-backends.js';

/** Worker processes; this machine class has 2 cores. */
const DEFAULT_WORKERS = 2;
/** How long the workers may take to receive the registry. */
const ROUTE_TIMEOUT_MS = 10_000;

function status(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Resolves once a few consecutive requests (spread over the workers) are answered 200. */
async function waitForRoutes(port: number, workers: number): Promise<void> {
  const deadline = Date.now() + ROUTE_TIMEOUT_MS;
  let ok = 0;
  while (ok < workers * 4) {
    if (Date.now() > deadline) throw new Error(`the cluster workers did not route within ${ROUTE_TIMEOUT_MS} ms`);
    if ((await status(port)) === 200) ok += 1;
    else {
      ok = 0;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

runChild<ForwarderReady>(async () => {
  const { backendPorts, workers = DEFAULT_WORKERS } = childArgs<ForwarderArgs & { workers?: number }>();
  const primary = new ClusterPrimary({ workers, host: '127.0.0.1', port: 0, control: false, logLevel: 'warn' });
  const addresses = await primary.start();
  const port = addresses.http?.port;
  if (port === undefined) throw new Error('the cluster reported no HTTP address');
  registerDirectly(primary, backendPorts);
  await waitForRoutes(port, workers);
  return {
    ready: { port, note: `inteli-x${workers}: the proxy's cluster mode, ${workers} workers (backends on the primary's registry)` },
    stop: () => primary.stop(),
  };
});
