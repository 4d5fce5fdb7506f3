/**
 * Failure handling: 502 on a closed port, 504 on a silent backend, retry of idempotent requests only,
 * passive ejection, client aborts, resets mid-response, and the `Trailer:` request that crashed
 * http-proxy 1.18.1.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { withTimeout } from '../../helpers/control-plane-client.js';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/shared/logger.js';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { type TestBackend, closedPort, startBackend } from '../../helpers/data-plane-backends.js';
import { register, send, startProxy, whoAnswers } from '../../helpers/data-plane-client.js';

describe('data plane failures', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step();
    cleanup.length = 0;
  });

  async function backend(name: string, handler?: Parameters<typeof startBackend>[1]): Promise<TestBackend> {
    const started = await startBackend(name, handler);
    cleanup.push(() => started.close());
    return started;
  }

  async function proxyWith(options: Parameters<typeof startProxy>[0] = {}): Promise<{ proxy: ProxyServer; port: number }> {
    const started = await startProxy(options);
    cleanup.push(() => started.proxy.stop());
    return started;
  }

  function registerPort(proxy: ProxyServer, name: string, port: number): void {
    proxy.registry.add({ agentId: name, targets: [{ protocol: 'http', host: '127.0.0.1', port }], rules: [{ path: '/api' }] });
  }

  it('answers 502 RP_ERR_UPSTREAM_CONNECT when the target port is closed', async () => {
    const { proxy, port } = await proxyWith({ retry: false });
    registerPort(proxy, 'dead', await closedPort());
    const response = await send(port, '/api');
    expect(response.status).toBe(502);
    expect(JSON.parse(response.body)).toEqual({ error: 'UPSTREAM_CONNECT', message: expect.any(String) });
  });

  it('logs a forwarding failure with one component (forwarder) and a backend removal at info', async () => {
    const lines: string[] = [];
    const destination = new Writable({ write(chunk: Buffer, _encoding, done) { lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== '')); done(); } });
    const { proxy, port } = await proxyWith({ retry: false, logger: createLogger({ level: 'info', destination }) });
    registerPort(proxy, 'dead', await closedPort());
    expect((await send(port, '/api')).status).toBe(502);
    const failure = lines.find((line) => line.includes('forwarding failed'));
    expect(failure).toBeDefined();
    // pino writes every binding of every ancestor, so a nested child would repeat the key.
    expect(failure!.match(/"component":/g)).toHaveLength(1);
    expect(JSON.parse(failure!)).toMatchObject({ component: 'forwarder', level: 40 });
    const [backend] = proxy.registry.list();
    proxy.registry.remove(backend!.id, 'left');
    const removal = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry.msg === 'backend removed');
    expect(removal).toMatchObject({ level: 30, agentId: 'dead', backendId: backend!.id, reason: 'left' });
  });

  it('answers 504 RP_ERR_UPSTREAM_TIMEOUT when the backend never answers', async () => {
    const silent = await backend('silent', (req) => req.resume());
    const { proxy, port } = await proxyWith({ responseTimeoutMs: 200 });
    register(proxy, silent);
    const response = await send(port, '/api');
    expect(response.status).toBe(504);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'UPSTREAM_TIMEOUT' });
  });

  it('retries a GET once on another upstream after a connect failure', async () => {
    const live = await backend('live');
    const { proxy, port } = await proxyWith();
    registerPort(proxy, 'dead', await closedPort());
    register(proxy, live);
    // The rotation starts at the dead upstream; the GET must still succeed on the live one.
    expect(await whoAnswers(port, '/api')).toBe('live');
    expect(live.hits()).toBe(1);
  });

  it('retries a PUT with its body intact after a connect failure', async () => {
    const echo = await backend('echo', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => res.end(Buffer.concat(chunks)));
    });
    const { proxy, port } = await proxyWith();
    registerPort(proxy, 'dead', await closedPort());
    register(proxy, echo);
    const response = await send(port, '/api', { method: 'PUT', body: 'the body' });
    expect(response.status).toBe(200);
    expect(response.body).toBe('the body');
    expect(echo.hits()).toBe(1);
  });

  it('never sends a POST twice: a connect failure is answered 502', async () => {
    const live = await backend('live');
    const { proxy, port } = await proxyWith();
    registerPort(proxy, 'dead', await closedPort());
    register(proxy, live);
    const first = await send(port, '/api', { method: 'POST', body: 'x' });
    expect(first.status).toBe(502);
    expect(live.hits()).toBe(0);
    const second = await send(port, '/api', { method: 'POST', body: 'x' });
    expect(second.status).toBe(200);
    expect(live.hits()).toBe(1);
  });

  it('ejects an upstream after N consecutive connect failures', async () => {
    const live = await backend('live');
    const { proxy, port } = await proxyWith({ retry: false, ejectAfterFailures: 2, ejectDurationMs: 60_000 });
    registerPort(proxy, 'dead', await closedPort());
    register(proxy, live);
    const statuses: number[] = [];
    for (let index = 0; index < 6; index += 1) statuses.push((await send(port, '/api')).status);
    // dead, live, dead (ejected now), then live only.
    expect(statuses).toEqual([502, 200, 502, 200, 200, 200]);
    const dead = proxy.snapshot().routes[0]?.upstreams.find((upstream) => upstream.agentId === 'dead');
    expect(dead).toMatchObject({ state: 'ejected', consecutiveFailures: 2 });
    expect(dead?.lastError).toMatch(/ECONNREFUSED/);
  });

  it('aborts the upstream request when the client goes away', async () => {
    let upstreamClosed!: Promise<unknown>;
    let received!: () => void;
    const arrived = new Promise<void>((resolve) => (received = resolve));
    const slow = await backend('slow', (req) => {
      upstreamClosed = once(req.socket, 'close');
      received();
    });
    const { proxy, port } = await proxyWith();
    register(proxy, slow);
    const client = httpRequest({ host: '127.0.0.1', port, path: '/api', agent: false });
    client.on('error', () => undefined);
    client.end();
    await arrived;
    client.destroy();
    await upstreamClosed;
    await proxy.whenIdle(proxy.registry.list()[0]!.id);
    expect(proxy.snapshot().inFlight).toBe(0);
  });

  it('answers 502 to a POST whose backend closes the connection without answering (regression: hang)', async () => {
    const closing = await backend('closing', (req) => {
      req.socket.destroy();
    });
    const { proxy, port } = await proxyWith();
    register(proxy, closing);
    const response = await send(port, '/api', { method: 'POST', body: 'payload' });
    expect(response.status).toBe(502);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'UPSTREAM_RESPONSE' });
    expect(closing.hits()).toBe(1);
  });

  it('destroys the client connection when the backend resets mid-response', async () => {
    const resetting = await backend('reset', (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setImmediate(() => res.socket?.destroy());
    });
    const { proxy, port } = await proxyWith();
    register(proxy, resetting);
    await expect(send(port, '/api')).rejects.toThrow(/aborted|socket hang up|ECONNRESET/);
  });

  it('does not crash on a request with a Trailer header (http-proxy 1.18.1 regression), and relays it', async () => {
    const echo = await backend('echo', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => res.end(JSON.stringify({ body: Buffer.concat(chunks).toString(), trailer: req.headers.trailer ?? null })));
    });
    const { proxy, port } = await proxyWith();
    register(proxy, echo);
    const socket = connect(port, '127.0.0.1');
    cleanup.push(async () => void socket.destroy());
    const reply = withTimeout(
      new Promise<string>((resolve) => {
        let data = '';
        socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
        socket.on('end', () => resolve(data));
      }),
      10_000,
      'the proxy to answer and close',
    );
    // write, not end: a half-closed client makes Node abort the request.
    socket.write(
      'POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\nConnection: close\r\n\r\n' +
        '5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n',
    );
    const text = await reply;
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toContain('{"body":"hello","trailer":"X-Checksum"}');
    // The proxy still serves afterwards.
    expect((await send(port, '/api', { method: 'POST', body: 'again' })).status).toBe(200);
  });

  it('relays a response that carries trailers, with its Trailer header and the trailers', async () => {
    const trailing = await backend('trailing', (req, res) => {
      req.resume();
      res.writeHead(200, { trailer: 'x-checksum', 'content-type': 'text/plain' });
      res.write('body');
      res.addTrailers({ 'x-checksum': 'abc' });
      res.end();
    });
    const { proxy, port } = await proxyWith();
    register(proxy, trailing);
    const response = await send(port, '/api');
    expect(response.status).toBe(200);
    expect(response.body).toBe('body');
    expect(response.headers.trailer).toBe('x-checksum');
  });

  it('streams a request body to the backend', async () => {
    const echo = await backend('echo', (req, res) => {
      let size = 0;
      req.on('data', (chunk: Buffer) => (size += chunk.length));
      req.on('end', () => res.end(String(size)));
    });
    const { proxy, port } = await proxyWith();
    register(proxy, echo);
    const body = 'x'.repeat(1_000_000);
    const response = await send(port, '/api', { method: 'PUT', body });
    expect(response.body).toBe(String(body.length));
  });
});
