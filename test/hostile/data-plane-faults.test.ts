/**
 * Slow clients, misbehaving backends and client aborts against the data plane. The proxy runs with
 * small client deadlines here (headers 500 ms, whole request 1,000 ms); the defaults are 60 s and 300 s
 * (`clientHeadersTimeoutMs`, `clientRequestTimeoutMs`).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { Socket } from 'node:net';
import { startBackend, type TestBackend } from '../helpers/data-plane-backends.js';
import { register, startProxy } from '../helpers/data-plane-client.js';
import { startScriptedBackend, type ScriptedBackend } from '../helpers/hostile-backends.js';
import { countedSend, expectServing, openSocket, rawExchange, readUntilClose, type RawReply } from '../helpers/hostile-raw.js';
import { tally, tallyOne, useTally } from '../helpers/hostile-tally.js';
import { untilEvent } from '../helpers/wait-until.js';
import type { ProxyServer } from '../../src/proxy/proxy-server.js';

useTally();

const HEADERS_TIMEOUT_MS = 500;
const REQUEST_TIMEOUT_MS = 1000;
/** Node checks the client deadlines on a timer; the bound allows for one check interval and slack. */
const CUT_BOUND_MS = REQUEST_TIMEOUT_MS + 2500;

let proxy: ProxyServer;
let port: number;
let backend: TestBackend;
let scripted: ScriptedBackend;
let streaming: TestBackend;
const streamingClosed = { requests: 0, aborted: 0 };
/** Emits `change` whenever a count of the streaming backend moves (a request, an abort, a socket closed). */
const streamingEvents = new EventEmitter();

/** Resolves once `check()` holds, re-checked at every change of the streaming backend's counts. */
function untilStreaming(check: () => boolean, what: string): Promise<void> {
  return untilEvent(streamingEvents, 'change', check, 5000, what);
}

beforeAll(async () => {
  backend = await startBackend('ok');
  scripted = await startScriptedBackend((socket) => socket.end());
  streaming = await startBackend('stream', (req, res) => {
    // Long download or upload: never finishes on its own; counts requests that ended without completing.
    streamingClosed.requests += 1;
    streamingEvents.emit('change');
    let finished = false;
    res.on('finish', () => {
      finished = true;
    });
    res.on('close', () => {
      if (!finished) streamingClosed.aborted += 1;
      streamingEvents.emit('change');
    });
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => res.write(Buffer.alloc(16_384, 0x61)), 5);
      res.on('close', () => clearInterval(timer));
    } else {
      req.on('data', () => undefined);
    }
  });
  // Socket counts are updated by the tracker's own close listener, registered before this one.
  streaming.server.on('connection', (socket) => socket.once('close', () => streamingEvents.emit('change')));
  ({ proxy, port } = await startProxy({ clientHeadersTimeoutMs: HEADERS_TIMEOUT_MS, clientRequestTimeoutMs: REQUEST_TIMEOUT_MS }));
  register(proxy, backend, ['/api']);
  proxy.registry.add({ agentId: 'scripted', targets: [{ protocol: 'http', host: '127.0.0.1', port: scripted.port }], rules: [{ path: '/bad' }] });
  register(proxy, streaming, ['/stream']);
});

afterAll(async () => {
  await proxy.stop();
  await Promise.all([backend.close(), scripted.close(), streaming.close()]);
});

/** Trickles `bytes` one byte every `everyMs` until the socket closes; resolves with the close. */
async function trickle(bytes: string, everyMs: number, prefix = ''): Promise<RawReply> {
  const socket: Socket = await openSocket(port);
  const started = performance.now();
  const reply = readUntilClose(socket, CUT_BOUND_MS + 3000, started);
  if (prefix !== '') socket.write(prefix);
  let index = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || index >= bytes.length) return;
    socket.write(bytes[index] ?? '');
    index += 1;
  }, everyMs);
  const result = await reply;
  clearInterval(timer);
  return result;
}

describe('slow clients are cut within the deadline while others are served', () => {
  it('slowloris: 30 connections trickling headers are closed within the headers deadline', async () => {
    const attackers = Array.from({ length: 30 }, () => trickle(`GET /api/x HTTP/1.1\r\nHost: a\r\n${'X-Slow: a\r\n'.repeat(500)}\r\n`, 50));
    let served = 0;
    const during = (async () => {
      for (let i = 0; i < 10; i += 1) {
        await expectServing(port);
        served += 1;
      }
    })();
    const results = await Promise.all(attackers);
    await during;
    // A request whose head never completed was never taken: the proxy answers 408 or just closes
    // (refused); anything else (still open at the guard, another answer) counts as lost.
    const answered = results.filter((r) => r.closedByPeer && r.status === 408).length;
    const refused = results.filter((r) => r.closedByPeer && r.text === '').length;
    tally({ sent: results.length, answered, refused, lost: results.length - answered - refused });
    for (const result of results) {
      expect(result.closedByPeer).toBe(true);
      expect(result.ms).toBeLessThan(CUT_BOUND_MS);
      expect(result.text === '' || result.text.startsWith('HTTP/1.1 408')).toBe(true);
    }
    expect(served).toBe(10);
    await expectServing(port);
  }, 15_000);

  it('slow POST: bodies trickled below the request deadline are cut with 408, and the upstream request is aborted', async () => {
    const before = { ...streamingClosed };
    const attackers = Array.from({ length: 10 }, () =>
      trickle('x'.repeat(1000), 100, 'POST /stream/up HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n'),
    );
    let served = 0;
    for (let i = 0; i < 10; i += 1) {
      await expectServing(port);
      served += 1;
    }
    const results = await Promise.all(attackers);
    expect(served).toBe(10);
    // Each request head was complete, so the proxy took the request and owes an answer: the 408.
    const answered = results.filter((r) => r.status > 0).length;
    tally({ sent: results.length, answered, lost: results.length - answered });
    for (const result of results) {
      expect(result.closedByPeer).toBe(true);
      expect(result.ms).toBeLessThan(CUT_BOUND_MS);
      expect(result.status).toBe(408);
    }
    await expectServing(port);
    // Every upstream request (one per attacker) ended without completing: the upstream was aborted.
    await untilStreaming(() => streamingClosed.aborted - before.aborted >= 10, 'the 10 upstream requests to be aborted').catch(() => undefined);
    expect(streamingClosed.requests - before.requests).toBe(10);
    expect(streamingClosed.aborted - before.aborted).toBe(10);
  }, 15_000);
});

describe('misbehaving backends', () => {
  it('a backend that resets mid-response (Content-Length): the client sees a truncated response and a closed connection', async () => {
    scripted.script = (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n${'a'.repeat(100)}`, () => socket.resetAndDestroy());
    };
    const reply = await rawExchange(port, 'GET /bad/x HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(reply.closedByPeer).toBe(true);
    if (reply.status === 200) {
      const body = reply.text.slice(reply.text.indexOf('\r\n\r\n') + 4);
      expect(body.length).toBeLessThan(1000);
    } else {
      // The upstream failed before the head was relayed: the proxy answers it.
      expect(reply.status).toBe(502);
    }
    await expectServing(port);
  });

  it('a backend that resets mid-response (chunked): the client never sees the last chunk', async () => {
    scripted.script = (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n${'a'.repeat(100)}\r\n`, () => socket.resetAndDestroy());
    };
    const reply = await rawExchange(port, 'GET /bad/x HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(reply.closedByPeer).toBe(true);
    expect(reply.text).not.toMatch(/\r\n0\r\n\r\n$/);
    await expectServing(port);
  });

  it('a node client sees an error, never a clean short 200, when the backend resets mid-response', async () => {
    scripted.script = (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n${'a'.repeat(100)}`, () => socket.resetAndDestroy());
    };
    // The answer is either a relayed 200 head whose body is then cut (the client sees an error after the
    // head, never a clean end), or a complete 502. An error before any head means no answer: lost.
    const outcome = await new Promise<string>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/bad/x', agent: false }, (res) => {
        let length = 0;
        res.on('data', (chunk: Buffer) => (length += chunk.length));
        res.on('end', () => resolve(`status ${res.statusCode} complete, ${length} bytes`));
        res.on('error', () => resolve(`status ${res.statusCode} cut after ${length} bytes`));
        res.on('aborted', () => resolve(`status ${res.statusCode} cut after ${length} bytes`));
      });
      req.on('error', (error) => resolve(`no answer: ${error.message}`));
    });
    tallyOne(outcome.startsWith('status'));
    expect(outcome).toMatch(/^status 200 cut after \d+ bytes$|^status 502 complete/);
    await expectServing(port);
  });

  it.each([
    ['not HTTP at all', 'HELLO WORLD\r\n\r\n'],
    ['two different Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'],
    ['Content-Length and Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
    ['a NUL in a header', 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n'],
    ['an invalid status code', 'HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n'],
    ['a header name with a space', 'HTTP/1.1 200 OK\r\nX A: b\r\nContent-Length: 0\r\n\r\n'],
  ])('a backend that sends an invalid response (%s): 502', async (_name, bytes) => {
    scripted.script = (socket) => socket.end(bytes);
    const reply = await rawExchange(port, 'GET /bad/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(reply.status).toBe(502);
    await expectServing(port);
  });
});

describe('backends that die under a request', () => {
  it('a connection reset before any response byte: a GET is retried once on another target (200), a POST is never sent twice (502)', async () => {
    const dying = await startScriptedBackend((socket) => socket.resetAndDestroy());
    const healthy = await startBackend('healthy');
    const { proxy: local, port: localPort } = await startProxy({ ejectAfterFailures: 0 });
    try {
      local.registry.add({ agentId: 'dying', targets: [{ protocol: 'http', host: '127.0.0.1', port: dying.port }], rules: [{ path: '/die' }] });
      local.registry.add({ agentId: 'healthy', targets: [{ protocol: 'http', host: '127.0.0.1', port: healthy.port }], rules: [{ path: '/die' }] });
      const gets: number[] = [];
      for (let i = 0; i < 6; i += 1) {
        gets.push((await countedSend(localPort, '/die/get')).status);
      }
      const posts: number[] = [];
      for (let i = 0; i < 6; i += 1) {
        posts.push((await countedSend(localPort, '/die/post', { method: 'POST', body: 'x' })).status);
      }
      expect(gets).toEqual([200, 200, 200, 200, 200, 200]);
      expect(posts.filter((status) => status === 502).length).toBeGreaterThan(0);
      expect(posts.filter((status) => status !== 200 && status !== 502)).toEqual([]);
      // Every POST reached at most one backend: the dying one saw each at most once.
      const dyingPosts = dying.heads.filter((head) => head.startsWith('POST')).length;
      const healthyPosts = healthy.seen.filter((request) => request.method === 'POST').length;
      expect(dyingPosts + healthyPosts).toBe(6);
      await expectServing(localPort, '/die/get');
    } finally {
      await local.stop();
      await Promise.all([dying.close(), healthy.close()]);
    }
  });
});

describe('early answers', () => {
  it('a backend that answers 413 before reading a 20 MiB upload: the client gets the 413, not a 502', async () => {
    const early = await startBackend('early', (_req, res) => {
      res.writeHead(413, { 'content-type': 'text/plain' });
      res.end('too big');
    });
    const { proxy: local, port: localPort } = await startProxy();
    try {
      register(local, early, ['/upload']);
      const outcome = await new Promise<string>((resolve) => {
        const total = 20 * 1024 * 1024;
        const req = http.request({ host: '127.0.0.1', port: localPort, path: '/upload/x', method: 'POST', agent: false, headers: { 'content-length': String(total) } }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
          res.on('error', () => resolve(`${res.statusCode} (body cut) ${body}`));
        });
        req.on('error', (error) => resolve(`error ${error.message}`));
        const chunk = Buffer.alloc(65_536, 0x63);
        let sent = 0;
        const pump = (): void => {
          while (sent < total) {
            sent += chunk.length;
            if (!req.write(chunk)) {
              req.once('drain', pump);
              return;
            }
          }
          req.end();
        };
        pump();
      });
      tallyOne(!outcome.startsWith('error'));
      expect(outcome).toBe('413 too big');
      // Still serving: a small request gets the backend's answer.
      expect((await countedSend(localPort, '/upload/x')).status).toBe(413);
    } finally {
      await local.stop();
      await early.close();
    }
  }, 20_000);
});

describe('client aborts abort the upstream request every time', () => {
  it('30 long downloads aborted by the client abort 30 upstream requests', async () => {
    const before = { ...streamingClosed };
    const socketsBefore = streaming.socketsClosed;
    for (let i = 0; i < 30; i += 1) {
      let gotHead = false;
      await new Promise<void>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/stream/down', agent: false }, (res) => {
          gotHead = true;
          let received = 0;
          res.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (received > 50_000) req.destroy();
          });
          res.on('error', () => undefined);
        });
        req.on('error', () => undefined);
        req.on('close', () => resolve());
        req.on('timeout', () => reject(new Error('download never started')));
      });
      tallyOne(gotHead);
    }
    await expectServing(port);
    const started = streamingClosed.requests - before.requests;
    expect(started).toBe(30);
    // Each aborted download must end its upstream response early; wait for the last ones to close.
    await untilStreaming(() => streamingClosed.aborted - before.aborted >= 30, 'the 30 upstream responses to be aborted').catch(() => undefined);
    expect(streamingClosed.aborted - before.aborted).toBe(30);
    // Each abort closed its upstream connection (a half-read response cannot go back to the pool).
    await untilStreaming(() => streaming.socketsClosed - socketsBefore >= 30, 'the 30 upstream connections to close').catch(() => undefined);
    expect(streaming.socketsClosed - socketsBefore).toBe(30);
    expect(proxy.dataPlane.inFlight()).toBe(0);
  }, 20_000);

  it('30 uploads aborted by the client abort 30 upstream requests', async () => {
    const before = { ...streamingClosed };
    const socketsBefore = streaming.socketsClosed;
    for (let i = 0; i < 30; i += 1) {
      const req = http.request({ host: '127.0.0.1', port, path: '/stream/up', method: 'POST', agent: false, headers: { 'transfer-encoding': 'chunked' } });
      req.on('error', () => undefined);
      const closed = new Promise<void>((resolve) => req.on('close', () => resolve()));
      req.write(Buffer.alloc(65_536, 0x62));
      let reached = false;
      try {
        // Abort once the upstream request has started (the upload reached the backend).
        await untilStreaming(() => streamingClosed.requests - before.requests > i, `upload ${i} to reach the backend`);
        reached = true;
      } finally {
        req.destroy();
        await closed;
        tallyOne(reached);
      }
    }
    await untilStreaming(() => streamingClosed.aborted - before.aborted >= 30, 'the 30 upstream uploads to be aborted').catch(() => undefined);
    expect(streamingClosed.requests - before.requests).toBe(30);
    expect(streamingClosed.aborted - before.aborted).toBe(30);
    await untilStreaming(() => streaming.socketsClosed - socketsBefore >= 30, 'the 30 upstream connections to close').catch(() => undefined);
    expect(streaming.socketsClosed - socketsBefore).toBe(30);
    await expectServing(port);
    expect(proxy.dataPlane.inFlight()).toBe(0);
  }, 20_000);
});
