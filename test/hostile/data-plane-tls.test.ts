/**
 * The HTTPS listener of the data plane under abuse: connections that never start or never finish the TLS
 * handshake, slowloris over TLS, and a smuggling shape inside TLS. The proxy runs with a 500 ms headers
 * deadline, which also bounds the TLS handshake (default 60 s).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { startBackend, type TestBackend } from '../helpers/data-plane-backends.js';
import { register, startProxy } from '../helpers/data-plane-client.js';
import { testCertificate } from '../helpers/control-plane-fixture.js';
import { countedSend, expectServing, readUntilClose } from '../helpers/hostile-raw.js';
import { tally, tallyOne, useTally } from '../helpers/hostile-tally.js';
import type { ProxyServer } from '../../src/proxy/proxy-server.js';

useTally();

const HEADERS_TIMEOUT_MS = 500;
/** Deadline plus one sweep interval (at most 1 s) plus slack. */
const CUT_BOUND_MS = HEADERS_TIMEOUT_MS + 2500;

let proxy: ProxyServer;
let port: number;
let tlsPort: number;
let ca: string;
let backend: TestBackend;

beforeAll(async () => {
  const cert = await testCertificate();
  ca = cert.cert;
  backend = await startBackend('tls');
  ({ proxy, port } = await startProxy({ tls: cert, tlsPort: 0, clientHeadersTimeoutMs: HEADERS_TIMEOUT_MS, clientRequestTimeoutMs: 1000 }));
  tlsPort = proxy.addresses.https?.port ?? 0;
  register(proxy, backend, ['/api']);
});

afterAll(async () => {
  await proxy.stop();
  await backend.close();
});

async function expectServingTls(): Promise<void> {
  const response = await countedSend(tlsPort, '/api/health', { https: true, ca });
  expect(response.status).toBe(200);
}

function closeTime(socket: Socket): Promise<number> {
  const started = performance.now();
  return new Promise((resolve) => {
    const guard = setTimeout(() => socket.destroy(), CUT_BOUND_MS + 3000);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve(performance.now() - started);
    });
  });
}

describe('HTTPS listener abuse', () => {
  it('100 TCP connections that never start TLS are closed within the deadline while HTTPS clients are served', async () => {
    const sockets = await Promise.all(
      Array.from({ length: 100 }, () => new Promise<Socket>((resolve, reject) => {
        const socket = tcpConnect(tlsPort, '127.0.0.1', () => resolve(socket));
        socket.on('error', reject);
      })),
    );
    const closed = sockets.map((socket) => {
      socket.removeAllListeners('error');
      socket.on('error', () => undefined).resume();
      return closeTime(socket);
    });
    for (let i = 0; i < 5; i += 1) await expectServingTls();
    const times = await Promise.all(closed);
    tally({ sent: times.length, answered: 0, refused: times.length });
    expect(times.filter((ms) => ms >= CUT_BOUND_MS)).toEqual([]);
    await expectServingTls();
    await expectServing(port);
  }, 15_000);

  it('50 TLS handshakes stalled half way (ClientHello only) are closed within the deadline', async () => {
    // A real ClientHello from a TLS client whose socket stops reading right after sending it.
    const sockets = await Promise.all(
      Array.from({ length: 50 }, () => new Promise<Socket>((resolve, reject) => {
        const socket = tcpConnect(tlsPort, '127.0.0.1', () => resolve(socket));
        socket.on('error', reject);
      })),
    );
    const hello = Buffer.from('16030100a1010000', 'hex');
    const closed = sockets.map((socket) => {
      socket.removeAllListeners('error');
      socket.on('error', () => undefined).resume();
      socket.write(hello);
      return closeTime(socket);
    });
    const times = await Promise.all(closed);
    tally({ sent: times.length, answered: 0, refused: times.length });
    expect(times.filter((ms) => ms >= CUT_BOUND_MS)).toEqual([]);
    await expectServingTls();
  }, 15_000);

  it('slowloris over TLS: 20 connections trickling headers are cut within the headers deadline', async () => {
    const attackers = await Promise.all(
      Array.from({ length: 20 }, () => new Promise<TLSSocket>((resolve, reject) => {
        const socket = tlsConnect({ port: tlsPort, host: '127.0.0.1', ca, servername: 'localhost' }, () => resolve(socket));
        socket.on('error', reject);
      })),
    );
    const results = attackers.map((socket) => {
      socket.removeAllListeners('error');
      const reply = readUntilClose(socket, CUT_BOUND_MS + 3000);
      const text = `GET /api/x HTTP/1.1\r\nHost: a\r\n${'X-Slow: a\r\n'.repeat(300)}\r\n`;
      let index = 0;
      const timer = setInterval(() => {
        if (socket.destroyed || index >= text.length) return clearInterval(timer);
        socket.write(text[index] ?? '');
        index += 1;
      }, 50);
      return reply.finally(() => clearInterval(timer));
    });
    for (let i = 0; i < 5; i += 1) await expectServingTls();
    const replies = await Promise.all(results);
    tally({ sent: replies.length, answered: replies.filter((reply) => reply.status > 0).length, refused: replies.filter((reply) => reply.status === 0).length });
    for (const reply of replies) {
      expect(reply.closedByPeer).toBe(true);
      expect(reply.ms).toBeLessThan(CUT_BOUND_MS);
    }
    await expectServingTls();
  }, 15_000);

  it('CL+TE inside TLS gets 400 and reaches no backend', async () => {
    backend.seen.length = 0;
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const tls = tlsConnect({ port: tlsPort, host: '127.0.0.1', ca, servername: 'localhost' }, () => resolve(tls));
      tls.on('error', reject);
    });
    const reply = readUntilClose(socket, 3000);
    socket.write('POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/smuggled HTTP/1.1\r\nHost: a\r\n\r\n');
    const result = await reply;
    tallyOne(result.status > 0);
    expect(result.status).toBe(400);
    await expectServingTls();
    expect(backend.seen.map((request) => request.url)).toEqual(['/api/health']);
  });
});
