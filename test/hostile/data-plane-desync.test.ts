/**
 * Desynchronisation attempts between the proxy and its backends, byte for byte: a backend that answers
 * more bytes than it announced (pool poisoning), interim 1xx answers, a refused upgrade followed by a
 * raw request on the same connection (WebSocket smuggling), a 101 to a plain request, oversized
 * response heads, and many pipelined requests on one client connection.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { register, send, startProxy } from '../helpers/data-plane-client.js';
import { startBackend, type TestBackend } from '../helpers/data-plane-backends.js';
import { startScriptedBackend, type ScriptedBackend } from '../helpers/hostile-backends.js';
import { countedSend, expectServing, openSocket, rawExchange, readUntilClose } from '../helpers/hostile-raw.js';
import { tally, tallyOne, useTally } from '../helpers/hostile-tally.js';
import type { ProxyServer } from '../../src/proxy/proxy-server.js';

useTally();

let proxy: ProxyServer;
let port: number;
let backend: TestBackend;
let scripted: ScriptedBackend;

beforeAll(async () => {
  backend = await startBackend('ok');
  scripted = await startScriptedBackend((socket) => socket.end());
  ({ proxy, port } = await startProxy({ responseTimeoutMs: 1000 }));
  register(proxy, backend, ['/api']);
  proxy.registry.add({ agentId: 'scripted', targets: [{ protocol: 'http', host: '127.0.0.1', port: scripted.port }], rules: [{ path: '/bad' }] });
});

afterAll(async () => {
  await proxy.stop();
  await Promise.all([backend.close(), scripted.close()]);
});

describe('backend desynchronisation', () => {
  it('a response with extra bytes after its body never becomes the answer to the next request (pool poisoning)', async () => {
    scripted.script = (socket, head) => {
      if (head.includes('/bad/first')) {
        // Announces 2 bytes, sends a whole second response behind them on the kept-alive connection.
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled');
      } else {
        socket.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nclean');
      }
    };
    const answers: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const first = await send(port, '/bad/first').catch((error: Error) => error);
      tallyOne(!(first instanceof Error));
      const second = await send(port, '/bad/second').catch((error: Error) => error);
      tallyOne(!(second instanceof Error));
      for (const answer of [first, second]) answers.push(answer instanceof Error ? `error ${answer.message}` : `${answer.status} ${answer.body}`);
    }
    // Each request gets its own answer: the announced 2 bytes for the first, the clean response for the
    // second (a 502 for everything, or the smuggled bytes as an answer, fails here).
    expect(answers).toEqual(Array.from({ length: 5 }, () => ['200 ok', '200 clean']).flat());
    await expectServing(port);
  });

  it('an interim 103 Early Hints before the 200 is handled (the client gets the 200)', async () => {
    scripted.script = (socket) => {
      socket.end('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
    };
    const response = await countedSend(port, '/bad/hints');
    expect(response.status).toBe(200);
    expect(response.body).toBe('ok');
    await expectServing(port);
  });

  it('a 101 answer to a plain request is a 502, not a tunnel', async () => {
    scripted.script = (socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    };
    const reply = await rawExchange(port, 'GET /bad/plain HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(reply.status).toBe(502);
    await expectServing(port);
  });

  it('a response head larger than the limit is a 502', async () => {
    scripted.script = (socket) => {
      socket.end(`HTTP/1.1 200 OK\r\nX-Big: ${'b'.repeat(100_000)}\r\nContent-Length: 0\r\n\r\n`);
    };
    const reply = await rawExchange(port, 'GET /bad/big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(reply.status).toBe(502);
    await expectServing(port);
  });

  it('a refused upgrade (backend answers 200) closes the connection: a raw request sent behind it never reaches the backend', async () => {
    scripted.script = (socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno');
      // Anything the client manages to send through an (incorrectly) open tunnel lands here.
      socket.on('data', (chunk: Buffer) => scripted.heads.push(`TUNNELLED ${chunk.toString('latin1')}`));
    };
    scripted.heads.length = 0;
    const socket = await openSocket(port);
    const reply = readUntilClose(socket, 3000);
    socket.write('GET /bad/ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    socket.once('data', () => {
      if (!socket.destroyed) socket.write('GET /bad/internal HTTP/1.1\r\nHost: internal\r\n\r\n');
    });
    const result = await reply;
    tallyOne(result.status > 0);
    expect(result.status).toBe(200);
    expect(result.closedByPeer).toBe(true);
    expect(scripted.heads.filter((head) => head.includes('/bad/internal'))).toEqual([]);
    await expectServing(port);
  });
});

describe('pipelining', () => {
  it('200 pipelined requests on one connection are all answered, in order', async () => {
    const requests = Array.from({ length: 200 }, (_, index) => `GET /api/p${index} HTTP/1.1\r\nHost: a\r\n\r\n`).join('');
    const socket = await openSocket(port);
    const reply = readUntilClose(socket, 10_000);
    socket.write(`${requests}GET /api/last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    const result = await reply;
    const statuses = result.text.match(/HTTP\/1\.1 \d{3}/g) ?? [];
    const urls = [...result.text.matchAll(/"url":"(\/api\/[a-z0-9]+)"/g)].map((match) => match[1]);
    tally({ sent: 201, answered: statuses.length, lost: 201 - statuses.length });
    expect(statuses).toHaveLength(201);
    expect(new Set(statuses)).toEqual(new Set(['HTTP/1.1 200']));
    expect(urls).toEqual([...Array.from({ length: 200 }, (_, index) => `/api/p${index}`), '/api/last']);
    await expectServing(port);
  });
});
