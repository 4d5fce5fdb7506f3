/**
 * The bench backends: small Node HTTP servers in one child process, each answering every request with a
 * 12-byte "hello world" over keep-alive, and echoing WebSocket messages. They listen on 127.0.0.1 port 0
 * and report their ports to the parent. On an `agents` message they register with inteli-proxy through
 * real agents and answer `agents-registered`.
 */
import { createServer, type Server } from 'node:http';
import { WebSocketServer } from 'ws';
import type { ProxyWebServer } from '../../src/webserver-agent/proxy-web-server.js';
import type { AgentCredentials } from '../contenders/register-backends.js';
import { childArgs, runChild, sendToParent } from '../lib/child-runtime.js';
import { startAgents } from './agents.js';

/** Arguments from the parent. */
export interface BackendsArgs {
  /** How many backends to start. */
  readonly count: number;
}

/** What the child reports when ready. */
export interface BackendsReady {
  /** One port per backend, on 127.0.0.1. */
  readonly ports: number[];
}

const BODY = Buffer.from('hello world\n');
const HEADERS = { 'content-type': 'text/plain', 'content-length': String(BODY.length) };
/** Longer than any bench run so that proxies never race a server-side keep-alive close. */
const KEEP_ALIVE_TIMEOUT_MS = 120_000;

function startBackend(): Promise<{ server: Server; wss: WebSocketServer; port: number }> {
  const server = createServer((req, res) => {
    // Drain any request body so the connection stays reusable.
    req.resume();
    res.writeHead(200, HEADERS);
    res.end(BODY);
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    socket.on('error', () => socket.terminate());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, wss, port: typeof address === 'object' && address !== null ? address.port : 0 });
    });
  });
}

runChild<BackendsReady>(async () => {
  const { count } = childArgs<BackendsArgs>();
  const backends = await Promise.all(Array.from({ length: count }, () => startBackend()));
  let agents: ProxyWebServer[] = [];
  process.on('message', (message: unknown) => {
    const typed = message as { type?: unknown; payload?: AgentCredentials } | null;
    if (typed === null || typeof typed !== 'object' || typed.type !== 'agents' || typed.payload === undefined) return;
    startAgents(
      backends.map((backend) => backend.server),
      typed.payload,
    ).then(
      (started) => {
        agents = started;
        sendToParent('agents-registered', started.length);
      },
      (error: unknown) => sendToParent('error', `agent registration failed: ${String(error)}`),
    );
  });
  return {
    ready: { ports: backends.map((backend) => backend.port) },
    stop: async () => {
      await Promise.all(agents.map((agent) => agent.stop()));
      for (const { server, wss } of backends) {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
});
