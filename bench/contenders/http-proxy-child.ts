/**
 * node-http-proxy 1.18.1, the common choice: round-robin over the backends, either with a keep-alive agent
 * or with no agent (then http-proxy sends `Connection: close` upstream and opens a socket per request).
 */
import { Agent, createServer } from 'node:http';
import httpProxy from 'http-proxy';
import { childArgs, runChild } from '../lib/child-runtime.js';
import type { ForwarderArgs, ForwarderReady } from './forwarder-args.js';

runChild<ForwarderReady>(async () => {
  const { backendPorts, keepAlive = false } = childArgs<ForwarderArgs>();
  const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: 128 }) : undefined;
  const proxy = httpProxy.createProxyServer(agent === undefined ? {} : { agent });
  // Without this listener http-proxy rethrows upstream errors and the process dies.
  proxy.on('error', (_error, _req, res) => {
    if ('writeHead' in res && !res.headersSent) res.writeHead(502);
    res.end();
  });
  const targets = backendPorts.map((port) => `http://127.0.0.1:${port}`);
  let next = 0;
  const server = createServer((req, res) => {
    const target = targets[next]!;
    next = (next + 1) % targets.length;
    proxy.web(req, res, { target });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    ready: { port: typeof address === 'object' && address !== null ? address.port : 0 },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      proxy.close();
      agent?.destroy();
    },
  };
});
