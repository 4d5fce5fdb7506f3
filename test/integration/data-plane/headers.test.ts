/**
 * Header rewriting through a real proxy: hop-by-hop headers stripped both ways, X-Forwarded-* set (and
 * kept only from a trusted peer), x-request-id kept or generated.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { type TestBackend, startBackend } from '../../helpers/data-plane-backends.js';
import { register, send, startProxy } from '../../helpers/data-plane-client.js';

describe('data plane headers', () => {
  let backend: TestBackend;
  let untrusted: { proxy: ProxyServer; port: number };
  let trusted: { proxy: ProxyServer; port: number };

  beforeAll(async () => {
    backend = await startBackend('H', (req, res) => {
      req.resume();
      res.writeHead(200, {
        connection: 'keep-alive, x-upstream-hop',
        'keep-alive': 'timeout=5',
        'x-upstream-hop': 'secret',
        'proxy-authenticate': 'Basic',
        'x-kept': 'yes',
      });
      res.end('ok');
    });
    untrusted = await startProxy();
    trusted = await startProxy({ trustedProxies: ['127.0.0.0/8', '::1'] });
    register(untrusted.proxy, backend);
    register(trusted.proxy, backend);
  });

  afterAll(async () => {
    await Promise.all([untrusted.proxy.stop(), trusted.proxy.stop()]);
    await backend.close();
  });

  function lastSeen(): TestBackend['seen'][number] {
    return backend.seen[backend.seen.length - 1]!;
  }

  it('strips hop-by-hop request headers, including those named by Connection', async () => {
    await send(untrusted.port, '/api', {
      headers: {
        connection: 'close, x-client-hop',
        'x-client-hop': 'drop me',
        'keep-alive': 'timeout=1',
        te: 'gzip, deflate',
        'proxy-authorization': 'Basic c2VjcmV0',
        'proxy-connection': 'keep-alive',
        'x-end-to-end': 'keep me',
      },
    });
    const { headers } = lastSeen();
    expect(headers['x-client-hop']).toBeUndefined();
    expect(headers['keep-alive']).toBeUndefined();
    expect(headers.te).toBeUndefined();
    expect(headers['proxy-authorization']).toBeUndefined();
    expect(headers['proxy-connection']).toBeUndefined();
    expect(headers['x-end-to-end']).toBe('keep me');
  });

  it("does not forward the client's TE, but says `te: trailers` itself when the client accepts trailers (RFC 9110 10.1.4)", async () => {
    await send(untrusted.port, '/api', { headers: { te: 'gzip, trailers;q=1' } });
    expect(lastSeen().headers.te).toBe('trailers');
  });

  it('strips hop-by-hop response headers, including those named by Connection', async () => {
    const response = await send(untrusted.port, '/api');
    expect(response.headers['x-upstream-hop']).toBeUndefined();
    expect(response.headers['keep-alive']).toBeUndefined();
    expect(response.headers['proxy-authenticate']).toBeUndefined();
    expect(response.headers['x-kept']).toBe('yes');
  });

  it('replaces client-sent X-Forwarded-* from an untrusted peer', async () => {
    await send(untrusted.port, '/api', {
      headers: { host: 'shop.example', 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' },
    });
    const { headers } = lastSeen();
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-host']).toBe('shop.example');
    expect(headers.host).toBe('shop.example');
  });

  it('extends X-Forwarded-For and keeps -Proto/-Host from a trusted peer', async () => {
    await send(trusted.port, '/api', {
      headers: { host: 'inner', 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example' },
    });
    const { headers } = lastSeen();
    expect(headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('https');
    expect(headers['x-forwarded-host']).toBe('shop.example');
  });

  it('keeps a valid x-request-id and echoes it', async () => {
    const response = await send(untrusted.port, '/api', { headers: { 'x-request-id': 'trace-42.a_b' } });
    expect(lastSeen().headers['x-request-id']).toBe('trace-42.a_b');
    expect(response.headers['x-request-id']).toBe('trace-42.a_b');
  });

  it('replaces an invalid x-request-id with a generated one', async () => {
    await send(untrusted.port, '/api', { headers: { 'x-request-id': 'bad id with spaces' } });
    const first = lastSeen().headers['x-request-id'];
    await send(untrusted.port, '/api', { headers: { 'x-request-id': 'x'.repeat(129) } });
    const second = lastSeen().headers['x-request-id'];
    expect(first).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
    expect(second).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
    expect(first).not.toBe(second);
  });

  it('generates an x-request-id when none is sent, also on 403 answers', async () => {
    await send(untrusted.port, '/api');
    expect(lastSeen().headers['x-request-id']).toMatch(/^[A-Za-z0-9._-]+$/);
    const denied = await send(untrusted.port, '/elsewhere');
    expect(denied.headers['x-request-id']).toMatch(/^[A-Za-z0-9._-]+$/);
  });
});
