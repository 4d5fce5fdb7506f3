/**
 * Lifecycle of the proxy's data plane: listeners (HTTP, HTTPS, port 0, EADDRINUSE, bad certificates),
 * idempotent start and stop, graceful stop with a request in flight, and draining support.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { ProxyServer as Proxy } from '../../../src/proxy/proxy-server.js';
import { generateDevCertificate } from '../../../src/shared/tls/dev-certificate.js';
import { type TestBackend, startBackend } from '../../helpers/data-plane-backends.js';
import { register, send, startProxy } from '../../helpers/data-plane-client.js';
import { waitUntil } from '../../helpers/wait-until.js';

describe('data plane lifecycle', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step();
    cleanup.length = 0;
  });

  async function proxyWith(options: Parameters<typeof startProxy>[0] = {}): Promise<{ proxy: ProxyServer; port: number }> {
    const started = await startProxy(options);
    cleanup.push(() => started.proxy.stop());
    return started;
  }

  /** A backend that holds each request until `release()` is called. */
  async function heldBackend(startResponse = false): Promise<{ backend: TestBackend; arrived: Promise<void>; release: () => void }> {
    let arrive!: () => void;
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    const pending: (() => void)[] = [];
    const backend = await startBackend('held', (req, res) => {
      req.resume();
      if (startResponse) res.write('part-');
      pending.push(() => res.end('done'));
      arrive();
    });
    cleanup.push(() => backend.close());
    return { backend, arrived, release: () => pending.splice(0).forEach((finish) => finish()) };
  }

  it('binds port 0 and reports the bound address', async () => {
    const { proxy, port } = await proxyWith();
    expect(port).toBeGreaterThan(0);
    expect(proxy.addresses.http).toMatchObject({ address: '127.0.0.1', port });
    expect(proxy.addresses.https).toBeUndefined();
  });

  it('start() and stop() are idempotent and emit listening once', async () => {
    const proxy = new Proxy({ host: '127.0.0.1', port: 0, control: false });
    cleanup.push(() => proxy.stop());
    let listening = 0;
    proxy.on('listening', () => (listening += 1));
    const first = proxy.start();
    expect(proxy.start()).toBe(first);
    await first;
    expect(listening).toBe(1);
    const stop = proxy.stop();
    expect(proxy.stop()).toBe(stop);
    await stop;
    expect(proxy.dataPlane.state).toBe('stopped');
    await expect(proxy.start()).rejects.toMatchObject({ code: 'RP_ERR_NOT_RUNNING' });
  });

  it('stop() before start() resolves', async () => {
    const proxy = new Proxy({ host: '127.0.0.1', port: 0, control: false });
    cleanup.push(() => proxy.stop());
    await proxy.stop();
    expect(proxy.dataPlane.state).toBe('stopped');
  });

  it('rejects with RP_ERR_LISTEN naming host:port when the port is in use', async () => {
    const { port } = await proxyWith();
    const second = new Proxy({ host: '127.0.0.1', port, control: false });
    cleanup.push(() => second.stop());
    const error = await second.start().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'RP_ERR_LISTEN', name: 'ListenError' });
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    expect((error as Error).message).toContain('address already in use');
    await second.stop();
  });

  it('serves HTTPS with a generated certificate', async () => {
    const pair = await generateDevCertificate();
    const backend = await startBackend('tls');
    cleanup.push(() => backend.close());
    const { proxy } = await proxyWith({ tls: pair, tlsPort: 0 });
    register(proxy, backend);
    const httpsPort = proxy.addresses.https?.port ?? 0;
    expect(httpsPort).toBeGreaterThan(0);
    const response = await send(httpsPort, '/api', { https: true, ca: pair.cert });
    expect(response.status).toBe(200);
    expect(backend.seen[0]?.headers['x-forwarded-proto']).toBe('https');
  });

  it('rejects with RP_ERR_TLS on a bad certificate', async () => {
    const proxy = new Proxy({ host: '127.0.0.1', port: 0, tlsPort: 0, tls: { cert: 'not a cert', key: 'not a key' }, control: false });
    cleanup.push(() => proxy.stop());
    await expect(proxy.start()).rejects.toMatchObject({ code: 'RP_ERR_TLS', name: 'TlsError' });
    await proxy.stop();
  });

  it('validates options with RP_ERR_INVALID_OPTION naming the option', () => {
    expect(() => new Proxy({ port: 70000 })).toThrow(/port must be an integer from 0 to 65535/);
    expect(() => new Proxy({ trustedProxies: ['not-an-ip'] })).toThrow(/trustedProxies/);
    expect(() => new Proxy({ selector: 'random' as never })).toThrow(/selector must be one of/);
    expect(() => new Proxy({ closeTimeout: 5 } as never)).toThrow(/closeTimeout" was removed: use `shutdownTimeoutMs`/);
  });

  it('stops gracefully: the in-flight request completes, new connections are refused', async () => {
    const { backend, arrived, release } = await heldBackend();
    const { proxy, port } = await proxyWith({ shutdownTimeoutMs: 5_000 });
    register(proxy, backend);
    const inFlight = send(port, '/api');
    await arrived;
    const stopped = proxy.stop();
    // The stop closes the listeners as it enters `stopping`; from then on a new connection is refused.
    await waitUntil(() => proxy.dataPlane.state === 'stopping', 5000, 'the stop to begin');
    await expect(send(port, '/api')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(proxy.dataPlane.state).toBe('stopping');
    release();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(response.body).toBe('done');
    await stopped;
    expect(proxy.dataPlane.state).toBe('stopped');
  });

  it('answers 503 with Connection: close to a new request on a kept-alive connection during a stop', async () => {
    const { backend, arrived, release } = await heldBackend(true);
    const { proxy, port } = await proxyWith({ shutdownTimeoutMs: 5_000 });
    register(proxy, backend);
    // The first response has started (as keep-alive) when the stop begins, so its connection stays
    // open; a second request sent on it after stop() began must get 503 and Connection: close.
    const socket = connect(port, '127.0.0.1');
    cleanup.push(() => void socket.destroy());
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const closed = once(socket, 'close');
    socket.write('GET /api HTTP/1.1\r\nHost: a\r\n\r\n');
    await arrived;
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    const stopped = proxy.stop();
    await waitUntil(() => proxy.dataPlane.state === 'stopping', 5000, 'the stop to begin');
    const secondRequest = 'GET /api HTTP/1.1\r\nHost: a\r\n\r\n';
    const bytesBefore = proxy.dataPlane.clientBytes().bytesIn;
    socket.write(secondRequest);
    // The proxy reads (and answers, queued behind the first response) the second request before the first
    // response ends: its bytes show in the client byte counter once read.
    await waitUntil(() => proxy.dataPlane.clientBytes().bytesIn >= bytesBefore + secondRequest.length, 5000, 'the proxy to read the second request');
    release();
    await closed;
    await stopped;
    const [first, second] = received.split(/(?=HTTP\/1\.1 )/);
    expect(first).toMatch(/^HTTP\/1\.1 200/);
    expect(first).toContain('done');
    expect(second).toMatch(/^HTTP\/1\.1 503/);
    expect(second).toMatch(/\r\nconnection: close\r\n/i);
    expect(second).toContain('"error":"SHUTTING_DOWN"');
    expect(backend.hits()).toBe(1);
  });

  it('destroys what is left after shutdownTimeoutMs', async () => {
    const { backend, arrived } = await heldBackend();
    const { proxy, port } = await proxyWith({ shutdownTimeoutMs: 100 });
    register(proxy, backend);
    const outcome = send(port, '/api').then(
      () => 'answered',
      (error: Error) => error.message,
    );
    await arrived;
    await proxy.stop();
    expect(await outcome).toMatch(/socket hang up|ECONNRESET/);
    expect(proxy.snapshot().inFlight).toBe(0);
  });

  it('whenIdle resolves once the backend has no request in flight', async () => {
    const { backend, arrived, release } = await heldBackend();
    const { proxy, port } = await proxyWith();
    const registered = register(proxy, backend);
    await proxy.whenIdle(registered.id);
    await proxy.whenIdle('unknown#1');
    const inFlight = send(port, '/api');
    await arrived;
    expect(proxy.dataPlane.inFlight(registered.id)).toBe(1);
    let idle = false;
    const waiting = proxy.whenIdle(registered.id).then(() => (idle = true));
    proxy.registry.setState(registered.id, 'draining');
    expect((await send(port, '/api')).status).toBe(403);
    expect(idle).toBe(false);
    release();
    await inFlight;
    await waiting;
    expect(idle).toBe(true);
  });

  it('lets a removed backend finish its in-flight request', async () => {
    const { backend, arrived, release } = await heldBackend();
    const { proxy, port } = await proxyWith();
    const registered = register(proxy, backend);
    const inFlight = send(port, '/api');
    await arrived;
    proxy.registry.remove(registered.id, 'left');
    expect(proxy.snapshot().routes).toEqual([]);
    const waiting = proxy.whenIdle(registered.id);
    release();
    expect((await inFlight).status).toBe(200);
    await waiting;
  });

  it('reports routes and upstreams in snapshot()', async () => {
    const backend = await startBackend('snap');
    cleanup.push(() => backend.close());
    const { proxy } = await proxyWith();
    const registered = register(proxy, backend, ['/api', '/v2']);
    const snapshot = proxy.snapshot();
    expect(snapshot.state).toBe('running');
    expect(snapshot.routes.map((route) => route.rule).sort()).toEqual(['/api', '/v2']);
    expect(snapshot.routes[0]?.upstreams[0]).toMatchObject({
      backendId: registered.id,
      agentId: 'snap',
      origin: `http://127.0.0.1:${backend.port}`,
      state: 'ready',
      inFlight: 0,
      weight: 1,
    });
  });
});
