/**
 * Helpers of the sysadmin integration tests: key files in temp dirs, a web
 * server for agents, and a stub control plane (TLS, sub-protocol inteli.v2) whose answers a test
 * scripts, for the timeouts, disconnects and malformed answers a real proxy does not produce.
 */
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { SUBPROTOCOL } from '../../../src/shared/protocol.js';
import { publicKeyPin } from '../../../src/shared/tls/public-key-pin.js';
import { testCertificate } from '../../helpers/control-plane-fixture.js';

/** Writes `value` as JSON into `dir/name` (mode 0600) and returns the path. */
export async function writeJson(dir: string, name: string, value: unknown): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `${JSON.stringify(value)}\n`, { mode: 0o600 });
  return file;
}

/** A web server answering `text` on every path. */
export function helloServer(text = 'hello'): http.Server {
  return http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(text);
  });
}

/** A stub control plane. `reply(frame, socket)` decides the answer; returning undefined sends nothing. */
export interface StubProxy {
  readonly url: string;
  readonly pin: string;
  /** Resolves with the next frame any client sends. */
  nextFrame(): Promise<Record<string, unknown>>;
  /** Cuts every open connection (1006 on the client side). */
  dropAll(): void;
  close(): Promise<void>;
}

export async function startStubProxy(reply: (frame: Record<string, unknown>) => unknown): Promise<StubProxy> {
  const cert = await testCertificate();
  const server = https.createServer({ cert: cert.cert, key: cert.key });
  const wss = new WebSocketServer({ server, handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false) });
  const sockets = new Set<WebSocket>();
  const waiters: Array<(frame: Record<string, unknown>) => void> = [];
  wss.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      waiters.shift()?.(frame);
      const answer = reply(frame);
      if (answer !== undefined) socket.send(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `wss://127.0.0.1:${port}`,
    pin: publicKeyPin(cert.cert),
    nextFrame: () => new Promise((resolve) => waiters.push(resolve)),
    dropAll: () => {
      for (const socket of sockets) socket.terminate();
    },
    close: async () => {
      for (const socket of sockets) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
