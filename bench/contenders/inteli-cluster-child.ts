/**
 * inteli-proxy on several cores, the way a worker option would run it: a Node `cluster` primary forks N
 * workers, each runs a `ProxyServer` on the same port (the primary hands out connections round-robin) and
 * registers the same backends, so every worker routes to every target. This measures what such an option
 * would give before the proxy has one.
 */
import cluster from 'node:cluster';
import { ProxyServer } from '../../src/proxy/proxy-server.js';
import { childArgs, runChild } from '../lib/child-runtime.js';
import type { ForwarderArgs, ForwarderReady } from './forwarder-args.js';
import { proxyOptions, registerDirectly } from './register-backends.js';

/** Worker processes; this machine class has 2 cores. */
const DEFAULT_WORKERS = 2;

function isStop(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'stop';
}

if (cluster.isPrimary) {
  runChild<ForwarderReady>(async () => {
    const { workers = DEFAULT_WORKERS } = childArgs<ForwarderArgs & { workers?: number }>();
    const forked = Array.from({ length: workers }, () => cluster.fork());
    const ports = await Promise.all(
      forked.map(
        (worker) =>
          new Promise<number>((resolve, reject) => {
            worker.once('listening', (address) => resolve(address.port));
            worker.once('exit', (code) => reject(new Error(`cluster worker exited with code ${code} before listening`)));
          }),
      ),
    );
    return {
      ready: { port: ports[0]!, note: `inteli-x${workers}: ${workers} cluster workers sharing one port (round-robin by the primary)` },
      stop: async () => {
        await Promise.all(
          forked.map(
            (worker) =>
              new Promise<void>((resolve) => {
                if (worker.isDead()) return resolve();
                worker.once('exit', () => resolve());
                worker.send({ type: 'stop' });
              }),
          ),
        );
      },
    };
  });
} else {
  const { backendPorts } = childArgs<ForwarderArgs>();
  const proxy = new ProxyServer(proxyOptions('registry'));
  registerDirectly(proxy, backendPorts);
  const stop = (): void => {
    void proxy.stop().finally(() => process.exit(0));
  };
  process.on('message', (message: unknown) => {
    if (isStop(message)) stop();
  });
  process.on('disconnect', stop);
  proxy.start().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
