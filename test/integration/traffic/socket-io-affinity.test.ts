/**
 * Issue 13, item 1: Socket.IO behind the proxy. With the default transports (long-polling, then an
 * upgrade to WebSocket) every request of a session must reach the backend that made the session, or the
 * next poll gets "Session ID unknown". Three real Socket.IO servers register through real agents with
 * `affinity: 'cookie'`; real socket.io-client clients (with a cookie jar, as a browser has) connect, upgrade
 * and round-trip messages, and the clients end up spread over the three backends.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import { Server as SocketIoServer } from 'socket.io';
import { io as connectClient, type Socket as ClientSocket } from 'socket.io-client';
import { startAgentProxy, type AgentProxy } from '../../helpers/agent-proxy.js';

const BACKENDS = ['SIO-A', 'SIO-B', 'SIO-C'];
const CLIENTS = 9;

let fixture: AgentProxy;
const servers: SocketIoServer[] = [];

beforeAll(async () => {
  fixture = await startAgentProxy();
  for (const name of BACKENDS) {
    const server = http.createServer();
    const io = new SocketIoServer(server);
    io.on('connection', (socket) => {
      socket.on('echo', (message: string, ack: (answer: { from: string; message: string }) => void) => ack({ from: name, message }));
    });
    servers.push(io);
    const agent = await fixture.agent(name, '/socket.io', () => undefined, { server, affinity: 'cookie' });
    await agent.start();
  }
});

afterAll(async () => {
  await fixture?.stop();
  await Promise.all(servers.map((io) => new Promise<void>((resolve) => io.close(() => resolve()))));
});

/** Connects with the default transports and resolves once the WebSocket upgrade is done. */
function connectAndUpgrade(port: number): Promise<ClientSocket> {
  return new Promise((resolve, reject) => {
    const socket = connectClient(`http://127.0.0.1:${port}`, { withCredentials: true, forceNew: true, reconnection: false, timeout: 10_000 });
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
    socket.once('connect', () => {
      const engine = socket.io.engine;
      if (engine.transport.name === 'websocket') resolve(socket);
      else engine.once('upgrade', () => resolve(socket));
    });
  });
}

function echo(socket: ClientSocket, message: string): Promise<{ from: string; message: string }> {
  return socket.timeout(10_000).emitWithAck('echo', message) as Promise<{ from: string; message: string }>;
}

describe('Socket.IO on three backends with cookie affinity', () => {
  it('every client connects with the default transports, upgrades and round-trips messages on one backend', async () => {
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connectAndUpgrade(fixture.port)));
    try {
      const homes = new Set<string>();
      for (const [index, client] of clients.entries()) {
        expect(client.connected).toBe(true);
        expect(client.io.engine.transport.name).toBe('websocket');
        const answers = [];
        for (let round = 0; round < 3; round += 1) answers.push(await echo(client, `c${index}-m${round}`));
        expect(answers.map((answer) => answer.message)).toEqual([0, 1, 2].map((round) => `c${index}-m${round}`));
        // One session, one backend: every answer comes from the backend that made the session.
        expect(new Set(answers.map((answer) => answer.from)).size).toBe(1);
        homes.add(answers[0]!.from);
      }
      // Fresh picks follow the route's rotation, so nine clients land on all three backends.
      expect([...homes].sort()).toEqual(BACKENDS);
    } finally {
      for (const client of clients) client.close();
    }
  });

  it('long-polling alone (no upgrade) also keeps each session on its backend', async () => {
    const clients = await Promise.all(
      Array.from({ length: 3 }, () =>
        new Promise<ClientSocket>((resolve, reject) => {
          const socket = connectClient(`http://127.0.0.1:${fixture.port}`, { withCredentials: true, forceNew: true, reconnection: false, transports: ['polling'], upgrade: false });
          socket.once('connect', () => resolve(socket));
          socket.once('connect_error', reject);
        }),
      ),
    );
    try {
      for (const client of clients) {
        const first = await echo(client, 'one');
        const second = await echo(client, 'two');
        expect(second.from).toBe(first.from);
        expect(client.io.engine.transport.name).toBe('polling');
      }
    } finally {
      for (const client of clients) client.close();
    }
  });
});
