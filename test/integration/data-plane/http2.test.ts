/**
 * HTTP/2 on the HTTPS listener: ALPN picks h2 (HTTP/1.1 stays available on the same port, WebSocket
 * included), and everything the data plane does for HTTP/1.1 holds: routing and 403 reasons,
 * X-Forwarded-*, RFC 7239 Forwarded, Via and loop detection (508), client-identity headers dropped
 * (issue 14), request ids, timeouts, retries, streamed bodies, metrics by protocol, graceful stop
 * with GOAWAY. The translation is checked at the backend: `:authority` becomes Host, split cookies are
 * joined, a backend's connection-specific response headers are dropped instead of failing the stream.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ClientHttp2Session, constants } from 'node:http2';
import { type ClientOptions, WebSocket, WebSocketServer } from 'ws';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { generateDevCertificate } from '../../../src/shared/tls/dev-certificate.js';
import { type TestBackend, closedPort, startBackend } from '../../helpers/data-plane-backends.js';
import { register, send, startProxy } from '../../helpers/data-plane-client.js';
import { h2Connect, h2Request } from '../../helpers/h2-client.js';

describe('HTTP/2 downstream', () => {
  let backend: TestBackend;
  let proxy: ProxyServer;
  let tlsPort: number;
  let ca: string;
  let session: ClientHttp2Session;
  let wss: WebSocketServer;

  beforeAll(async () => {
    backend = await startBackend('B', (req, res) => {
      if (req.url?.startsWith('/api/slow') === true) return; // never answers: 504
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.on('end', () => {
        // Connection-specific fields an HTTP/1.1 backend may send; chunked (no content-length).
        res.writeHead(200, { connection: 'keep-alive', 'keep-alive': 'timeout=5', 'content-type': 'application/json', 'x-backend': 'B', 'set-cookie': ['a=1; Path=/', 'b=2; Path=/'] });
        res.write(JSON.stringify({ bytes, url: req.url, method: req.method }));
        res.end();
      });
    });
    wss = new WebSocketServer({ server: backend.server });
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo:${String(data)}`)));
    const pair = await generateDevCertificate();
    ca = pair.cert;
    const started = await startProxy({ tls: pair, tlsPort: 0, responseTimeoutMs: 800 });
    proxy = started.proxy;
    tlsPort = proxy.addresses.https?.port as number;
    register(proxy, backend, ['/api', '/ws', '/upload']);
    proxy.registry.add({ agentId: 'dead', targets: [{ protocol: 'http', host: '127.0.0.1', port: await closedPort() }], rules: [{ path: '/api' }] });
    session = await h2Connect(tlsPort, ca);
  });

  afterAll(async () => {
    session?.close();
    await proxy?.stop();
    wss?.close();
    await backend?.close();
  });

  function lastSeen(): TestBackend['seen'][number] {
    return backend.seen[backend.seen.length - 1]!;
  }

  it('negotiates h2 by ALPN and forwards to the HTTP/1.1 backend with Host from :authority and X-Forwarded-*', async () => {
    expect(session.alpnProtocol).toBe('h2');
    const response = await h2Request(session, '/api/hello?x=1', { headers: { 'x-request-id': 'h2-test-id-0001' } });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ url: '/api/hello?x=1', method: 'GET' });
    const seen = lastSeen();
    expect(seen.headers.host).toBe(`localhost:${tlsPort}`);
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-forwarded-host']).toBe(`localhost:${tlsPort}`);
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-request-id']).toBe('h2-test-id-0001');
    expect(seen.rawHeaders.some((name) => name.startsWith(':'))).toBe(false);
    expect(response.headers['x-request-id']).toBe('h2-test-id-0001');
  });

  it("drops a backend's Connection, Keep-Alive and Transfer-Encoding instead of failing the stream", async () => {
    const response = await h2Request(session, '/api/chunked');
    expect(response.status).toBe(200);
    expect(response.headers['x-backend']).toBe('B');
    expect(response.headers.connection).toBeUndefined();
    expect(response.headers['keep-alive']).toBeUndefined();
    expect(response.headers['transfer-encoding']).toBeUndefined();
    // Two Set-Cookie fields stay two (never joined with a comma, which would break them).
    expect(response.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(JSON.parse(response.body)).toMatchObject({ url: '/api/chunked' });
  });

  it('joins split cookie fields with "; " for the backend', async () => {
    await h2Request(session, '/api/cookies', { headers: { cookie: ['a=1', 'b=2', 'c=3'] } });
    expect(lastSeen().headers.cookie).toBe('a=1; b=2; c=3');
  });

  it("appends this proxy's Via entry with the protocol version 2 (RFC 9110 section 7.6.3)", async () => {
    await h2Request(session, '/api/via', { headers: { via: '1.1 edge' } });
    expect(lastSeen().headers.via).toBe(`1.1 edge, 2 ${proxy.options.dataPlane.proxyId}`);
  });

  it('fix-issue-14-forwarding-loop over h2: answers 508 to a request already carrying its Via entry, and the backend never sees it', async () => {
    const before = backend.hits();
    const response = await h2Request(session, '/api/loop', { headers: { via: `1.1 other, 1.1 ${proxy.options.dataPlane.proxyId}` } });
    expect(response.status).toBe(508);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'LOOP_DETECTED' });
    expect(backend.hits()).toBe(before);
  });

  it('sets RFC 7239 Forwarded for an h2 request: the client address, proto=https and :authority as host', async () => {
    await h2Request(session, '/api/forwarded');
    expect(lastSeen().headers.forwarded).toBe(`for=127.0.0.1;proto=https;host="localhost:${tlsPort}"`);
  });

  it('fix-issue-14-spoofed-identity-headers over h2: drops the identity headers of an untrusted client and replaces its Forwarded', async () => {
    const spoofed = {
      forwarded: 'for=1.2.3.4;host=admin.internal',
      'x-real-ip': '1.2.3.4',
      'true-client-ip': '1.2.3.4',
      'x-client-ip': '1.2.3.4',
      'x-original-url': '/admin/delete',
      'x-rewrite-url': '/admin/delete',
      'x-forwarded-prefix': '/admin',
      'x-forwarded-for': '1.2.3.4',
    };
    expect((await h2Request(session, '/api/identity', { headers: spoofed })).status).toBe(200);
    const seen = lastSeen().headers;
    for (const name of ['x-real-ip', 'true-client-ip', 'x-client-ip', 'x-original-url', 'x-rewrite-url', 'x-forwarded-prefix']) {
      expect({ name, value: seen[name] }).toEqual({ name, value: undefined });
    }
    expect(seen.forwarded).toBe(`for=127.0.0.1;proto=https;host="localhost:${tlsPort}"`);
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('answers 403 with the reason when no rule matches', async () => {
    const response = await h2Request(session, '/nowhere');
    expect(response.status).toBe(403);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'NO_ROUTE' });
    expect(response.headers['x-request-id']).toEqual(expect.any(String));
  });

  it('answers 400 when Host disagrees with :authority, and ends the session with GOAWAY', async () => {
    // A refused request ends its connection in HTTP/1.1 (Connection: close); in HTTP/2, its session.
    const own = await h2Connect(tlsPort, ca);
    const goaway = new Promise<void>((resolve) => own.once('goaway', () => resolve()));
    const response = await h2Request(own, '/api/x', { headers: { ':authority': `localhost:${tlsPort}`, host: 'other.example' } });
    expect(response.status).toBe(400);
    await goaway;
    own.close();
  });

  it('streams a 4 MiB request body to the backend with flow control', async () => {
    const body = Buffer.alloc(4 * 1024 * 1024, 0x61);
    const response = await h2Request(session, '/upload', { method: 'POST', body });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ bytes: body.length, method: 'POST' });
  });

  it('forwards an h2 request that says Expect: 100-continue, body included (Node answers the 100 on h2)', async () => {
    const body = Buffer.alloc(64 * 1024, 0x62);
    const response = await h2Request(session, '/upload/continue', { method: 'POST', headers: { expect: '100-continue' }, body });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ bytes: body.length, method: 'POST', url: '/upload/continue' });
  });

  it('forwards an h2 request that announces trailers (te: trailers kept, body intact)', async () => {
    const response = await h2Request(session, '/upload/trailers', { method: 'POST', headers: { te: 'trailers', trailer: 'x-checksum' }, body: 'abc' });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ bytes: 3, method: 'POST' });
  });

  it('retries a GET on another target after a connect failure', async () => {
    for (let index = 0; index < 4; index += 1) expect((await h2Request(session, '/api/retry')).status).toBe(200);
  });

  it('answers 504 when the upstream does not answer in time', async () => {
    const response = await h2Request(session, '/api/slow');
    expect(response.status).toBe(504);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'UPSTREAM_TIMEOUT' });
  }, 10_000);

  it('still serves HTTP/1.1 on the same port, WebSocket upgrades included', async () => {
    const response = await send(tlsPort, '/api/h1', { https: true, ca });
    expect(response.status).toBe(200);
    const socket = new WebSocket(`wss://127.0.0.1:${tlsPort}/ws`, { ca, servername: 'localhost' } as ClientOptions);
    const echoed = await new Promise<string>((resolve, reject) => {
      socket.once('open', () => socket.send('hi'));
      socket.once('message', (data) => resolve(String(data)));
      socket.once('error', reject);
    });
    socket.close();
    expect(echoed).toBe('echo:hi');
  });

  it('counts requests by protocol', async () => {
    const body = (await proxy.metrics.exposition()).body;
    expect(body).toMatch(/inteli_client_requests_total\{protocol="h2"\} [1-9]/);
    expect(body).toMatch(/inteli_client_requests_total\{protocol="http\/1.1"\} [1-9]/);
    expect(body).toMatch(/inteli_h2_sessions 1/);
  });
});

describe('HTTP/2 slow request body', () => {
  it('resets a stream whose body is not complete within clientRequestTimeoutMs and aborts the upstream request', async () => {
    let upstreamAborted: () => void = () => undefined;
    const aborted = new Promise<void>((resolve) => (upstreamAborted = resolve));
    const backend = await startBackend('slow-body', (req) => {
      req.resume();
      req.socket.once('close', () => upstreamAborted());
    });
    const pair = await generateDevCertificate();
    const { proxy } = await startProxy({ tls: pair, tlsPort: 0, clientRequestTimeoutMs: 300, clientHeadersTimeoutMs: 300 });
    register(proxy, backend);
    const session = await h2Connect(proxy.addresses.https?.port as number, pair.cert);
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/api/upload' });
      stream.on('error', () => undefined);
      stream.write('first chunk, then nothing');
      const rstCode = await new Promise<number | undefined>((resolve) => stream.once('close', () => resolve(stream.rstCode)));
      expect(rstCode).toBe(constants.NGHTTP2_CANCEL);
      await aborted;
    } finally {
      session.destroy();
      await proxy.stop();
      await backend.close();
    }
  }, 15_000);
});

describe('HTTP/2 client abort', () => {
  it('aborts the upstream request when the client resets the stream mid-response', async () => {
    let upstreamClosed: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    const backend = await startBackend('download', (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(1024, 0x62));
      // Never ends: only an abort from the proxy closes this socket.
      res.socket?.once('close', () => upstreamClosed());
    });
    const pair = await generateDevCertificate();
    const { proxy } = await startProxy({ tls: pair, tlsPort: 0 });
    register(proxy, backend);
    const session = await h2Connect(proxy.addresses.https?.port as number, pair.cert);
    try {
      const stream = session.request({ ':path': '/api/download' });
      stream.on('error', () => undefined);
      await new Promise<void>((resolve) => stream.once('data', () => resolve()));
      stream.close(constants.NGHTTP2_CANCEL);
      await closed;
      expect(backend.hits()).toBe(1);
    } finally {
      session.destroy();
      await proxy.stop();
      await backend.close();
    }
  }, 15_000);
});

describe('HTTP/2 graceful stop', () => {
  it('sends GOAWAY, lets the in-flight stream finish, and closes the session', async () => {
    let release: () => void = () => undefined;
    const backend = await startBackend('S', (req, res) => {
      req.resume();
      release = () => res.end('done');
    });
    const pair = await generateDevCertificate();
    const { proxy } = await startProxy({ tls: pair, tlsPort: 0 });
    register(proxy, backend);
    const session = await h2Connect(proxy.addresses.https?.port as number, pair.cert);
    try {
      const inFlight = h2Request(session, '/api/long');
      await new Promise<void>((resolve) => {
        const check = (): void => (backend.hits() > 0 ? resolve() : void setImmediate(check));
        check();
      });
      const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
      const stopped = proxy.stop();
      await goaway;
      release();
      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(response.body).toBe('done');
      await stopped;
      expect(session.closed || session.destroyed).toBe(true);
    } finally {
      session.destroy();
      await proxy.stop();
      await backend.close();
    }
  });
});
