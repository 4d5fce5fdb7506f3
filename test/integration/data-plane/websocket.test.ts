/** WebSocket (upgrade) tunnelling through the proxy, with `ws` as client and backend. */
import { afterEach, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { send, startProxy } from '../../helpers/data-plane-client.js';
import { openSocket, readUntilClose } from '../../helpers/hostile-raw.js';

interface WsBackend {
  readonly port: number;
  readonly wss: WebSocketServer;
  readonly server: Server;
  close(): Promise<void>;
}

async function startWsBackend(onRequest?: Parameters<typeof createServer>[0]): Promise<WsBackend> {
  const server = onRequest === undefined ? createServer() : createServer(onRequest);
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket, req) => {
    socket.on('message', (data, binary) => socket.send(binary ? data : `echo:${String(data)}@${req.url}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    wss,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('data plane WebSocket tunnels', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step();
    cleanup.length = 0;
  });

  async function setup(onRequest?: Parameters<typeof createServer>[0]): Promise<{ proxy: ProxyServer; port: number; backend: WsBackend }> {
    const backend = await startWsBackend(onRequest);
    cleanup.push(() => backend.close());
    const { proxy, port } = await startProxy();
    cleanup.push(() => proxy.stop());
    proxy.registry.add({ agentId: 'ws', targets: [{ protocol: 'http', host: '127.0.0.1', port: backend.port }], rules: [{ path: '/ws' }] });
    return { proxy, port, backend };
  }

  /** A client socket that is terminated after the test; errors of refused handshakes are expected. */
  function client(url: string): WebSocket {
    const socket = new WebSocket(url);
    socket.on('error', () => undefined);
    cleanup.push(() => socket.terminate());
    return socket;
  }

  function open(port: number, path: string): Promise<WebSocket> {
    const socket = client(`ws://127.0.0.1:${port}${path}`);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(socket));
      socket.once('unexpected-response', () => reject(new Error('handshake refused')));
    });
  }

  it('echoes messages through the proxy and counts the tunnel as in flight', async () => {
    const { proxy, port } = await setup();
    const socket = await open(port, '/ws/chat');
    socket.send('hello');
    const [reply] = (await once(socket, 'message')) as [Buffer];
    expect(String(reply)).toBe('echo:hello@/ws/chat');
    socket.send(Buffer.from([1, 2, 3]), { binary: true });
    const [binary] = (await once(socket, 'message')) as [Buffer];
    expect([...binary]).toEqual([1, 2, 3]);
    const backendId = proxy.registry.list()[0]!.id;
    expect(proxy.dataPlane.inFlight(backendId)).toBe(1);
    expect(proxy.snapshot().tunnels).toBe(1);
    socket.close();
    await proxy.whenIdle(backendId);
    expect(proxy.snapshot().tunnels).toBe(0);
  });

  it('closes the client side when the backend closes the connection', async () => {
    const { port, backend } = await setup();
    const socket = await open(port, '/ws');
    const closed = once(socket, 'close');
    for (const client of backend.wss.clients) client.terminate();
    await closed;
  });

  it('closes the backend side when the client goes away', async () => {
    const { port, backend } = await setup();
    const serverSide = once(backend.wss, 'connection') as Promise<[WebSocket]>;
    const socket = await open(port, '/ws');
    const [peer] = await serverSide;
    const closed = once(peer, 'close');
    socket.terminate();
    await closed;
  });

  it('relays a non-101 answer and closes the socket', async () => {
    const backend = await startWsBackend();
    backend.wss.close();
    backend.server.removeAllListeners('upgrade');
    backend.server.on('upgrade', (_req, socket) => {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n\r\nnope');
    });
    cleanup.push(() => backend.close());
    const { proxy, port } = await startProxy();
    cleanup.push(() => proxy.stop());
    proxy.registry.add({ agentId: 'ws', targets: [{ protocol: 'http', host: '127.0.0.1', port: backend.port }], rules: [{ path: '/ws' }] });
    const socket = client(`ws://127.0.0.1:${port}/ws`);
    const [, response] = (await once(socket, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(response.statusCode).toBe(401);
    // On a raw connection (a client that would keep it open): the answer is relayed whole, then the
    // proxy closes the connection (nothing sent behind the refused upgrade can be tunnelled).
    const raw = await openSocket(port);
    const reply = readUntilClose(raw, 5000);
    raw.write(`GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${Buffer.alloc(16, 1).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const { text, closedByPeer } = await reply;
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    expect(text.endsWith('\r\n\r\nnope')).toBe(true);
    expect(closedByPeer).toBe(true);
  });

  it('answers 403 NO_ROUTE to an upgrade without a route, and 502 when the target is down', async () => {
    const { proxy, port } = await startProxy();
    cleanup.push(() => proxy.stop());
    const noRoute = client(`ws://127.0.0.1:${port}/nothing`);
    const [, denied] = (await once(noRoute, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(denied.statusCode).toBe(403);
    proxy.registry.add({ agentId: 'dead', targets: [{ protocol: 'http', host: '127.0.0.1', port: 1 }], rules: [{ path: '/ws' }] });
    const down = client(`ws://127.0.0.1:${port}/ws`);
    const [, failed] = (await once(down, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(failed.statusCode).toBe(502);
    expect((await send(port, '/nothing')).status).toBe(403);
  });

  it('answers 400 to an upgrade with a malformed target', async () => {
    const { port } = await setup();
    const bad = client(`ws://127.0.0.1:${port}/ws/..%2Fadmin`);
    const [, refused] = (await once(bad, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(refused.statusCode).toBe(400);
  });
});
