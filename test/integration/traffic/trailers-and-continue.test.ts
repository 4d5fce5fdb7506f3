/**
 * Issue 13, items 3 and 4, through raw sockets as curl would speak: trailers in both directions over
 * HTTP/1.1 chunked bodies (with `Trailer` and `TE: trailers` handled as RFC 9110 says), and
 * `Expect: 100-continue` end to end: the backend's 100 reaches the client before it sends its body, a
 * backend that refuses with 413 before the body is heard by the client before any body byte is sent,
 * and a backend's unsolicited 100 is tolerated. The Node-client path these take keeps the hardening of
 * issue 14: loops answered 508, client identity headers stripped (in trailers too), `Via` appended.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { startBackend, type TestBackend } from '../../helpers/data-plane-backends.js';
import { startProxy } from '../../helpers/data-plane-client.js';
import { openSocket } from '../../helpers/hostile-raw.js';

let proxy: ProxyServer;
let port: number;
const backends: TestBackend[] = [];
/** What the upload backends received, by path. */
const received = new Map<string, { body: string; trailers: Record<string, string>; headers: IncomingMessage['headers'] }>();

/** Reads from a raw socket until `done(text)` says the reply is complete, or the peer closes. */
function readUntil(socket: Socket, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const finish = (): void => {
      socket.off('data', onData);
      resolve(text);
    };
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      if (done(text)) finish();
    };
    socket.on('data', onData);
    socket.once('close', finish);
  });
}

function recordUpload(req: IncomingMessage, res: ServerResponse): void {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => {
    received.set(req.url ?? '', { body, trailers: { ...req.trailers } as Record<string, string>, headers: req.headers });
    res.end(`got ${body.length}`);
  });
}

beforeAll(async () => {
  ({ proxy, port } = await startProxy());
  const trailing = await startBackend('trailing', (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
    res.write('hello ');
    res.write('world');
    res.addTrailers({ 'x-checksum': 'sha256-abc', 'set-cookie': 'sneaky=1' });
    res.end();
  });
  const upload = await startBackend('upload', recordUpload);
  // This backend decides about Expect itself: 413 for /upload/big before reading anything, 100 otherwise.
  const strict = await startBackend('strict', recordUpload);
  strict.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    received.set(`${req.url ?? ''}#expect`, { body: '', trailers: {}, headers: req.headers });
    if (req.url === '/strict/big') {
      res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' });
      res.end('too large');
      return;
    }
    res.writeContinue();
    strict.server.emit('request', req, res);
  });
  // A backend that sends an interim 100 nobody asked for, then its answer.
  const chatty = await startBackend('chatty', (req, res) => {
    res.writeContinue();
    recordUpload(req, res);
  });
  backends.push(trailing, upload, strict, chatty);
  const add = (backend: TestBackend, path: string): void => {
    proxy.registry.add({ agentId: backend.name, targets: [{ protocol: 'http', host: '127.0.0.1', port: backend.port }], rules: [{ path }] });
  };
  add(trailing, '/trailing');
  add(upload, '/upload');
  add(strict, '/strict');
  add(chatty, '/chatty');
});

afterAll(async () => {
  await proxy?.stop();
  await Promise.all(backends.map((backend) => backend.close()));
});

describe('trailers (HTTP/1.1 chunked)', () => {
  it('relays response trailers and the Trailer header to the client, dropping forbidden trailer fields', async () => {
    const socket = await openSocket(port);
    try {
      // Connection: close, so the reply is complete when the proxy closes.
      const reply = readUntil(socket, () => false);
      socket.write('GET /trailing HTTP/1.1\r\nHost: t.example\r\nTE: trailers\r\nConnection: close\r\n\r\n');
      const text = await reply;
      expect(text).toMatch(/^HTTP\/1\.1 200 /);
      expect(text.toLowerCase()).toContain('\r\ntrailer: x-checksum\r\n');
      expect(text.toLowerCase()).toContain('transfer-encoding: chunked');
      const tail = text.slice(text.indexOf('\r\n0\r\n'));
      expect(tail.toLowerCase()).toContain('x-checksum: sha256-abc');
      // Fields a trailer may not carry (RFC 9110 section 6.5.1) are not relayed: no cookie sneaks in last.
      expect(text.toLowerCase()).not.toContain('sneaky');
    } finally {
      socket.destroy();
    }
  });

  it('relays request trailers announced with Trailer to the backend, with TE: trailers passed on', async () => {
    const socket = await openSocket(port);
    try {
      const reply = readUntil(socket, (text) => text.includes('got 11'));
      socket.write(
        'POST /upload/with-trailers HTTP/1.1\r\nHost: t.example\r\nTransfer-Encoding: chunked\r\nTrailer: x-digest\r\nTE: trailers\r\n\r\n' +
          '6\r\nhello \r\n5\r\nworld\r\n0\r\nx-digest: md5-xyz\r\n\r\n',
      );
      expect(await reply).toMatch(/^HTTP\/1\.1 200 /);
      const seen = received.get('/upload/with-trailers');
      expect(seen?.body).toBe('hello world');
      expect(seen?.trailers).toEqual({ 'x-digest': 'md5-xyz' });
      expect(seen?.headers.trailer).toBe('x-digest');
      expect(seen?.headers.te).toBe('trailers');
    } finally {
      socket.destroy();
    }
  });
});

describe('Expect: 100-continue end to end', () => {
  it("relays the backend's 100 before the client sends its body, then the final answer", async () => {
    const socket = await openSocket(port);
    try {
      const interim = readUntil(socket, (text) => text.includes('\r\n\r\n'));
      socket.write('PUT /strict/small HTTP/1.1\r\nHost: t.example\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
      expect(await interim).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
      // The backend saw the Expect itself (the proxy did not answer it).
      expect(received.get('/strict/small#expect')?.headers.expect).toBe('100-continue');
      const final = readUntil(socket, (text) => text.includes('got 5'));
      socket.write('12345');
      expect(await final).toMatch(/^HTTP\/1\.1 200 /);
      expect(received.get('/strict/small')?.body).toBe('12345');
    } finally {
      socket.destroy();
    }
  });

  it("relays a backend's 413 refusal before any body byte is sent, and closes the connection", async () => {
    const socket = await openSocket(port);
    try {
      const reply = readUntil(socket, () => false);
      socket.write('POST /strict/big HTTP/1.1\r\nHost: t.example\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n');
      // The client never sends the body; the refusal must come anyway, and the connection then ends.
      const text = await reply;
      expect(text).toMatch(/^HTTP\/1\.1 413 /);
      expect(text).not.toContain('100 Continue');
      expect(text).toContain('too large');
      expect(received.has('/strict/big')).toBe(false);
    } finally {
      socket.destroy();
    }
  });

  it("tolerates a backend's unsolicited 100: answers come through, with and without bodies or the client's Expect", async () => {
    // undici refuses an unasked 100 as a bad response; the request (its body untouched) is resent on the
    // Node client, and the backend's later requests with bodies take that path from the start.
    const exchange = async (bytes: string, done: string): Promise<string> => {
      const socket = await openSocket(port);
      try {
        const reply = readUntil(socket, (text) => text.includes(done));
        socket.write(bytes);
        return await reply;
      } finally {
        socket.destroy();
      }
    };
    expect(await exchange('GET /chatty/a HTTP/1.1\r\nHost: t.example\r\nConnection: close\r\n\r\n', 'got 0')).toMatch(/^HTTP\/1\.1 200 /);
    expect(await exchange('POST /chatty/b HTTP/1.1\r\nHost: t.example\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody', 'got 4')).toMatch(/^HTTP\/1\.1 200 /);
    expect(received.get('/chatty/b')?.body).toBe('body');
    const expecting = await openSocket(port);
    try {
      const interim = readUntil(expecting, (text) => text.includes('\r\n\r\n'));
      expecting.write('POST /chatty/c HTTP/1.1\r\nHost: t.example\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
      expect(await interim).toMatch(/^HTTP\/1\.1 100 Continue/);
      const final = readUntil(expecting, (text) => text.includes('got 4'));
      expecting.write('body');
      expect(await final).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      expecting.destroy();
    }
  });
});

describe('hardening on the Node-client path (Expect and request trailers)', () => {
  it('strips spoofed identity headers and appends Via on an Expect: 100-continue request', async () => {
    const socket = await openSocket(port);
    try {
      const interim = readUntil(socket, (text) => text.includes('\r\n\r\n'));
      socket.write(
        'PUT /strict/identity HTTP/1.1\r\nHost: t.example\r\nContent-Length: 2\r\nExpect: 100-continue\r\n' +
          'X-Real-IP: 10.0.0.1\r\nForwarded: for=10.0.0.1\r\nX-Forwarded-For: 10.0.0.1\r\nX-Original-URL: /admin\r\n\r\n',
      );
      expect(await interim).toMatch(/^HTTP\/1\.1 100 Continue/);
      const final = readUntil(socket, (text) => text.includes('got 2'));
      socket.write('ok');
      expect(await final).toMatch(/^HTTP\/1\.1 200 /);
      const headers = received.get('/strict/identity')?.headers;
      expect(headers?.['x-real-ip']).toBeUndefined();
      expect(headers?.['x-original-url']).toBeUndefined();
      expect(headers?.['x-forwarded-for']).toBe('127.0.0.1');
      expect(headers?.forwarded).toBe('for=127.0.0.1;proto=http;host=t.example');
      expect(headers?.via).toBe(`1.1 ${proxy.options.dataPlane.proxyId}`);
    } finally {
      socket.destroy();
    }
  });

  it('drops identity and forwarding fields from request trailers, relaying the others', async () => {
    const socket = await openSocket(port);
    try {
      const reply = readUntil(socket, (text) => text.includes('got 2'));
      socket.write(
        'POST /upload/trailer-identity HTTP/1.1\r\nHost: t.example\r\nTransfer-Encoding: chunked\r\nTrailer: x-digest, x-real-ip, forwarded, via\r\n\r\n' +
          '2\r\nok\r\n0\r\nx-digest: md5-xyz\r\nx-real-ip: 10.0.0.1\r\nforwarded: for=10.0.0.1\r\nx-forwarded-for: 10.0.0.1\r\nvia: 1.1 elsewhere\r\n\r\n',
      );
      expect(await reply).toMatch(/^HTTP\/1\.1 200 /);
      expect(received.get('/upload/trailer-identity')?.trailers).toEqual({ 'x-digest': 'md5-xyz' });
    } finally {
      socket.destroy();
    }
  });

  it('answers 508 to a looping Expect: 100-continue or trailer request without reaching the backend', async () => {
    const via = `Via: 1.1 ${proxy.options.dataPlane.proxyId}\r\n`;
    for (const [path, request] of [
      ['/strict/looped', `PUT /strict/looped HTTP/1.1\r\nHost: t.example\r\nContent-Length: 2\r\nExpect: 100-continue\r\n${via}Connection: close\r\n\r\n`],
      ['/upload/looped', `POST /upload/looped HTTP/1.1\r\nHost: t.example\r\nTransfer-Encoding: chunked\r\nTrailer: x-digest\r\n${via}Connection: close\r\n\r\n2\r\nok\r\n0\r\nx-digest: 1\r\n\r\n`],
    ] as const) {
      const socket = await openSocket(port);
      try {
        const reply = readUntil(socket, () => false);
        socket.write(request);
        expect({ path, reply: (await reply).slice(0, 12) }).toEqual({ path, reply: 'HTTP/1.1 508' });
        expect(received.has(path)).toBe(false);
        expect(received.has(`${path}#expect`)).toBe(false);
      } finally {
        socket.destroy();
      }
    }
  });
});
