/**
 * Routing through a real proxy to real backends: exact round-robin, newcomers, longest rule, segment
 * boundaries, dot-segment trickery, and the 403 answers.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { type TestBackend, startBackend } from '../../helpers/data-plane-backends.js';
import { register, send, startProxy, whoAnswers } from '../../helpers/data-plane-client.js';

describe('data plane routing', () => {
  const backends: TestBackend[] = [];
  let a: TestBackend;
  let b: TestBackend;
  let c: TestBackend;
  let proxy: ProxyServer;
  let port: number;

  beforeAll(async () => {
    [a, b, c] = await Promise.all([startBackend('A'), startBackend('B'), startBackend('C')]);
    backends.push(a, b, c);
    ({ proxy, port } = await startProxy());
  });

  afterEach(() => {
    proxy.registry.clear('left');
  });

  afterAll(async () => {
    await proxy.stop();
    await Promise.all(backends.map((backend) => backend.close()));
  });

  async function sequence(path: string, count: number): Promise<string[]> {
    const names: string[] = [];
    for (let index = 0; index < count; index += 1) names.push(await whoAnswers(port, path));
    return names;
  }

  it('rotates exactly over 2 targets', async () => {
    register(proxy, a);
    register(proxy, b);
    expect(await sequence('/api', 6)).toEqual(['A', 'B', 'A', 'B', 'A', 'B']);
  });

  it('rotates exactly over 3 targets', async () => {
    register(proxy, a);
    register(proxy, b);
    register(proxy, c);
    expect(await sequence('/api/x', 6)).toEqual(['A', 'B', 'C', 'A', 'B', 'C']);
  });

  it('lets a newcomer take its turn without a burst', async () => {
    register(proxy, a);
    register(proxy, b);
    expect(await sequence('/api', 3)).toEqual(['A', 'B', 'A']);
    register(proxy, c);
    expect(await sequence('/api', 6)).toEqual(['B', 'C', 'A', 'B', 'C', 'A']);
  });

  it('routes to the longest matching rule', async () => {
    register(proxy, a, ['/']);
    register(proxy, b, ['/api']);
    register(proxy, c, ['/api/v2']);
    expect(await whoAnswers(port, '/')).toBe('A');
    expect(await whoAnswers(port, '/other')).toBe('A');
    expect(await whoAnswers(port, '/api')).toBe('B');
    expect(await whoAnswers(port, '/api/v1/x')).toBe('B');
    expect(await whoAnswers(port, '/api/v2')).toBe('C');
    expect(await whoAnswers(port, '/api/v2/deep/path?x=1')).toBe('C');
    expect(await whoAnswers(port, '/api/v2x')).toBe('B');
  });

  it('matches on segment boundaries: /api, /api/, /api?q=1 but not /apix', async () => {
    register(proxy, a, ['/api']);
    expect(await whoAnswers(port, '/api')).toBe('A');
    expect(await whoAnswers(port, '/api/')).toBe('A');
    expect(await whoAnswers(port, '/api?q=1')).toBe('A');
    expect(await whoAnswers(port, '/api/x')).toBe('A');
    const miss = await send(port, '/apix');
    expect(miss.status).toBe(403);
    expect(JSON.parse(miss.body)).toMatchObject({ error: 'NO_ROUTE' });
  });

  it('forwards the query string untouched', async () => {
    register(proxy, a, ['/api']);
    const response = await send(port, '/api/search?q=a%2Fb&x=..');
    expect(JSON.parse(response.body)).toEqual({ name: 'A', url: '/api/search?q=a%2Fb&x=..' });
  });

  it('routes and forwards the normalised path, so /api/../admin cannot reach /api', async () => {
    register(proxy, a, ['/api']);
    register(proxy, b, ['/admin']);
    const response = await send(port, '/api/../admin/x');
    expect(JSON.parse(response.body)).toEqual({ name: 'B', url: '/admin/x' });
    expect(JSON.parse((await send(port, '/api/./v1//x')).body)).toEqual({ name: 'A', url: '/api/v1/x' });
    expect(JSON.parse((await send(port, '/%61pi/x')).body)).toEqual({ name: 'A', url: '/api/x' });
    expect(JSON.parse((await send(port, '/api/%2e%2e/admin')).body)).toEqual({ name: 'B', url: '/admin' });
  });

  it('does not let /api/.. escape to a rule-less root', async () => {
    register(proxy, a, ['/api']);
    const response = await send(port, '/api/../secret');
    expect(response.status).toBe(403);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'NO_ROUTE' });
  });

  it('refuses malformed percent-encoding and encoded-slash traversal with 400', async () => {
    register(proxy, a, ['/api']);
    const before = a.hits();
    expect((await send(port, '/api/%zz')).status).toBe(400);
    expect((await send(port, '/api/..%2Fadmin')).status).toBe(400);
    expect((await send(port, '/api/..%5cadmin')).status).toBe(400);
    const bad = await send(port, '/api/%2');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ error: 'BAD_REQUEST' });
    expect(a.hits()).toBe(before);
  });

  it('answers 403 NO_ROUTE with a small JSON body when nothing matches', async () => {
    const response = await send(port, '/nothing');
    expect(response.status).toBe(403);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(response.body)).toEqual({ error: 'NO_ROUTE', message: expect.any(String) });
  });

  it('answers 403 NO_TARGET when the route has no available upstream, skipping draining ones', async () => {
    const backendA = register(proxy, a, ['/api']);
    const backendB = register(proxy, b, ['/api']);
    proxy.registry.setState(backendA.id, 'draining');
    expect(await sequence('/api', 3)).toEqual(['B', 'B', 'B']);
    proxy.registry.setState(backendB.id, 'draining');
    const response = await send(port, '/api');
    expect(response.status).toBe(403);
    expect(JSON.parse(response.body)).toEqual({ error: 'NO_TARGET', message: expect.any(String) });
  });

  it('accepts an absolute-form target and routes on its authority, which replaces Host', async () => {
    register(proxy, a, ['/api']);
    proxy.registry.add({ agentId: 'B', targets: [{ protocol: 'http', host: '127.0.0.1', port: b.port }], rules: [{ path: '/api', host: 'b.example' }] });
    const response = await send(port, 'http://b.example/api/x?y=1', { headers: { host: 'a.example' } });
    expect(JSON.parse(response.body)).toEqual({ name: 'B', url: '/api/x?y=1' });
    expect(b.seen[b.seen.length - 1]?.headers.host).toBe('b.example');
  });

  it('prefers a host-specific rule over an any-host rule of the same path', async () => {
    register(proxy, a, ['/api']);
    proxy.registry.add({ agentId: 'B', targets: [{ protocol: 'http', host: '127.0.0.1', port: b.port }], rules: [{ path: '/api', host: 'b.example' }] });
    expect(JSON.parse((await send(port, '/api', { headers: { host: 'B.example:8080' } })).body)).toMatchObject({ name: 'B' });
    expect(JSON.parse((await send(port, '/api', { headers: { host: 'other.example' } })).body)).toMatchObject({ name: 'A' });
  });
});

describe('data plane routing options', () => {
  it('uses the configured status for NO_ROUTE and NO_TARGET', async () => {
    const { proxy, port } = await startProxy({ noTargetStatus: 503 });
    try {
      const response = await send(port, '/x');
      expect(response.status).toBe(503);
      expect(JSON.parse(response.body)).toMatchObject({ error: 'NO_ROUTE' });
    } finally {
      await proxy.stop();
    }
  });

  it('spreads by weight with the weighted policy', async () => {
    const [a, b] = await Promise.all([startBackend('A'), startBackend('B')]);
    const { proxy, port } = await startProxy({ selector: 'weighted' });
    try {
      register(proxy, a, ['/api'], 3);
      register(proxy, b, ['/api'], 1);
      const names: string[] = [];
      for (let index = 0; index < 8; index += 1) names.push(await whoAnswers(port, '/api'));
      expect(names.filter((name) => name === 'A')).toHaveLength(6);
      expect(names.filter((name) => name === 'B')).toHaveLength(2);
    } finally {
      await proxy.stop();
      await Promise.all([a.close(), b.close()]);
    }
  });
});
