/**
 * Hostile request framing against the data plane, byte for byte on raw sockets: every request
 * smuggling shape gets a 400, the backend never receives the request hidden behind it, and the proxy
 * keeps serving. Oversized and overlong requests are refused with 431 (or 400).
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import { startBackend, type TestBackend } from '../helpers/data-plane-backends.js';
import { register, startProxy } from '../helpers/data-plane-client.js';
import { expectServing, rawExchange } from '../helpers/hostile-raw.js';
import { useTally } from '../helpers/hostile-tally.js';
import type { ProxyServer } from '../../src/proxy/proxy-server.js';

useTally();

let proxy: ProxyServer;
let port: number;
let backend: TestBackend;

/** The request hidden in the body of the first; it must never reach the backend. */
const SMUGGLED = 'GET /api/smuggled HTTP/1.1\r\nHost: a\r\n\r\n';

/** Smuggling shapes: [name, bytes]. Each must get a 400. */
const SHAPES: ReadonlyArray<readonly [string, string]> = [
  ['CL+TE', `POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['TE+CL', `POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 44\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['duplicate Content-Length (different)', `POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n${SMUGGLED}`],
  ['duplicate Content-Length (same)', `POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n${SMUGGLED}`],
  ['Content-Length list', `POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 40\r\n\r\n${SMUGGLED}`],
  ['negative Content-Length', `POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n${SMUGGLED}`],
  ['signed Content-Length', `POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: +0\r\n\r\n${SMUGGLED}`],
  ['hex Content-Length', `POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 0x0\r\n\r\n${SMUGGLED}`],
  ['Content-Length with inner space', `POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 0 40\r\n\r\n${SMUGGLED}`],
  ['Transfer-Encoding: chunked, chunked', `POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['two Transfer-Encoding: chunked lines', `POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['Transfer-Encoding: xchunked', `POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['Transfer-Encoding: chunked, gzip (chunked not last)', `POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['space before the colon (Transfer-Encoding :)', `POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['header name with a space', `GET /api/x HTTP/1.1\r\nHost: a\r\nX Forwarded: b\r\n\r\n${SMUGGLED}`],
  ['obs-fold', `POST /api/x HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n${SMUGGLED}`],
  ['obs-fold of Transfer-Encoding', `POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['bare LF line endings', `GET /api/x HTTP/1.1\nHost: a\n\n${SMUGGLED}`],
  ['bare LF in one header line', `GET /api/x HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n${SMUGGLED}`],
  ['bare CR in a header value', `GET /api/x HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n${SMUGGLED}`],
  ['NUL in a header value', `GET /api/x HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n${SMUGGLED}`],
  ['NUL in the target', `GET /api/x\0 HTTP/1.1\r\nHost: a\r\n\r\n${SMUGGLED}`],
  ['missing Host in HTTP/1.1', `GET /api/x HTTP/1.1\r\n\r\n${SMUGGLED}`],
  ['duplicate Host', `GET /api/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n${SMUGGLED}`],
  ['duplicate Host on an upgrade', `GET /api/x HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`],
  ['Host with the absolute-form authority twice', `GET http://a/api/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n${SMUGGLED}`],
];

/** Shapes whose head is valid but whose chunked body is not: the head may reach the backend, the smuggled request may not. */
const BODY_SHAPES: ReadonlyArray<readonly [string, string]> = [
  // RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing; it may be
  // processed, then the connection is closed.
  ['Transfer-Encoding in HTTP/1.0', `POST /api/x HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['bad chunk size', `POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1x\r\nx\r\n0\r\n\r\n${SMUGGLED}`],
  ['bare LF after a chunk extension', `POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a\nx\r\n0\r\n\r\n${SMUGGLED}`],
  ['chunk longer than its size', `POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxx\r\n0\r\n\r\n${SMUGGLED}`],
];

beforeAll(async () => {
  backend = await startBackend('hostile');
  ({ proxy, port } = await startProxy({ maxHeaderSize: 8192 }));
  register(proxy, backend, ['/api']);
});

afterAll(async () => {
  await proxy.stop();
  await backend.close();
});

beforeEach(() => {
  backend.seen.length = 0;
});

function smuggledSeen(): number {
  return backend.seen.filter((request) => request.url === '/api/smuggled').length;
}

describe('request smuggling shapes get 400 and reach no backend', () => {
  it.each(SHAPES)('%s', async (_name, bytes) => {
    const reply = await rawExchange(port, bytes);
    expect(reply.status).toBe(400);
    expect(reply.closedByPeer).toBe(true);
    // The health request is sent after the 400 on another connection, so anything the proxy forwarded
    // for the hostile bytes reached the backend before it.
    await expectServing(port);
    expect(backend.seen.map((request) => request.url)).toEqual(['/api/health']);
  });

  it.each(BODY_SHAPES)('%s (malformed chunked body)', async (_name, bytes) => {
    const reply = await rawExchange(port, bytes);
    expect(reply.status === 400 || reply.status === 502 || reply.status === 0).toBe(true);
    expect(reply.closedByPeer).toBe(true);
    expect(reply.text).not.toMatch(/^HTTP\/1\.1 200/);
    await expectServing(port);
    expect(smuggledSeen()).toBe(0);
  });
});

describe('hop-by-hop header abuse', () => {
  it.each([
    ['host', 'host', 'public.example'],
    ['x-forwarded-for', 'x-forwarded-for', '127.0.0.1'],
    ['x-forwarded-host', 'x-forwarded-host', 'public.example'],
    // The client's own (valid) id is kept; stripped, it would be replaced by a generated one.
    ['x-request-id', 'x-request-id', 'client-trace-1'],
  ])('Connection: %s cannot strip %s from the forwarded request', async (option, header, value) => {
    const before = backend.seen.length;
    const reply = await rawExchange(port, `GET /api/x HTTP/1.1\r\nHost: public.example\r\nX-Request-Id: client-trace-1\r\nConnection: close, ${option}\r\n\r\n`);
    expect(reply.status).toBe(200);
    const seen = backend.seen.slice(before).find((request) => request.url === '/api/x');
    expect(seen?.headers[header]).toBe(value);
    await expectServing(port);
  });
});

describe('oversized requests', () => {
  it('answers 431 to a header block above maxHeaderSize', async () => {
    const reply = await rawExchange(port, `GET /api/x HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(10_000)}\r\n\r\n`);
    expect([400, 431]).toContain(reply.status);
    await expectServing(port);
    expect(backend.seen.map((request) => request.url)).toEqual(['/api/health']);
  });

  it('answers 431 to a header block made of many small headers', async () => {
    const many = Array.from({ length: 2000 }, (_, index) => `x-h${index}: v\r\n`).join('');
    const reply = await rawExchange(port, `GET /api/x HTTP/1.1\r\nHost: a\r\n${many}\r\n`);
    expect([400, 431]).toContain(reply.status);
    await expectServing(port);
    expect(backend.seen.map((request) => request.url)).toEqual(['/api/health']);
  });

  it('answers 431 to more headers than Node keeps (never forwards a silently truncated header list)', async () => {
    // 2,100 one-letter headers fit in a 16 KiB block but exceed Node's maxHeadersCount (2,000).
    const { proxy: big, port: bigPort } = await startProxy({ maxHeaderSize: 65_536 });
    try {
      register(big, backend, ['/api']);
      const many = Array.from({ length: 2100 }, () => 'a: 1\r\n').join('');
      const reply = await rawExchange(bigPort, `GET /api/x HTTP/1.1\r\nHost: a\r\n${many}\r\n`);
      expect([400, 431]).toContain(reply.status);
      await expectServing(bigPort);
      expect(backend.seen.map((request) => request.url)).toEqual(['/api/health']);
    } finally {
      await big.stop();
    }
  });

  it('answers 431 (or 414/400) to a huge URL', async () => {
    const reply = await rawExchange(port, `GET /api/${'x'.repeat(100_000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
    expect([400, 414, 431]).toContain(reply.status);
    await expectServing(port);
    expect(backend.seen.map((request) => request.url)).toEqual(['/api/health']);
  });

  it('answers 400 to garbage instead of a request line', async () => {
    const reply = await rawExchange(port, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]));
    expect(reply.status).toBe(400);
    await expectServing(port);
  });
});
