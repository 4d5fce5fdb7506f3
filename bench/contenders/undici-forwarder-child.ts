/**
 * The bare undici forwarder: about 40 lines that round-robin requests over one keep-alive `Pool` per
 * backend, with no routing, headers policy, retries or metrics. The gap between it and inteli-proxy is what
 * our features cost.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import { childArgs, runChild } from '../lib/child-runtime.js';
import type { ForwarderArgs, ForwarderReady } from './forwarder-args.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te']);

function strip(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

runChild<ForwarderReady>(async () => {
  const { backendPorts } = childArgs<ForwarderArgs>();
  const pools = backendPorts.map((port) => new Pool(`http://127.0.0.1:${port}`, { connections: 128 }));
  let next = 0;
  const server = createServer((req, res) => {
    const pool = pools[next]!;
    next = (next + 1) % pools.length;
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    pool
      .request({ method: req.method as 'GET', path: req.url ?? '/', headers: strip(req.headers), body: hasBody ? req : null })
      .then(({ statusCode, headers, body }) => {
        res.writeHead(statusCode, strip(headers));
        body.pipe(res);
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    ready: { port: typeof address === 'object' && address !== null ? address.port : 0 },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(pools.map((pool) => pool.close()));
    },
  };
});
