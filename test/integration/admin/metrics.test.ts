/**
 * `/metrics` after known traffic: the counters and gauges must say exactly what happened. Backends are
 * real HTTP servers on port 0 added through the registry API; the second part registers a real agent
 * through the control plane for the registration, session, removal and auth-failure counters.
 */
import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import http from 'node:http';
import { TrustStore } from '../../../src/shared/trust/index.js';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import { closedPort, startBackend, type TestBackend } from '../../helpers/data-plane-backends.js';
import { register, send, startProxy } from '../../helpers/data-plane-client.js';
import { nextEvent, testCertificate } from '../../helpers/control-plane-fixture.js';
import { tryDial } from '../../helpers/control-plane-client.js';
import { adminGet, sample, scrape } from './admin-client.js';

const ADMIN = { host: '127.0.0.1', port: 0 } as const;

describe('/metrics with backends from the registry API', () => {
  let proxy: ProxyServer;
  let port: number;
  const backends: TestBackend[] = [];

  beforeEach(async () => {
    ({ proxy, port } = await startProxy({ admin: ADMIN, ejectAfterFailures: 1, ejectDurationMs: 60_000 }));
  });

  afterEach(async () => {
    await proxy.stop();
    await Promise.all(backends.splice(0).map((backend) => backend.close()));
  });

  async function backend(name: string, status = 200): Promise<TestBackend> {
    const started = await startBackend(name, (req, res) => {
      req.resume();
      res.statusCode = status;
      res.end(name);
    });
    backends.push(started);
    return started;
  }

  it('counts requests by rule, backend and status class, refusals, retries, ejections and registrations', async () => {
    const web1 = await backend('web1');
    const web2 = await backend('web2', 503);
    register(proxy, web1, ['/api']);
    register(proxy, web2, ['/shop']);
    const drained = register(proxy, web1, ['/drain']);
    proxy.registry.setState(drained.id, 'draining');
    proxy.registry.add({ agentId: 'dead', targets: [{ protocol: 'http', host: '127.0.0.1', port: await closedPort() }], rules: [{ path: '/retry' }] });
    register(proxy, web1, ['/retry']);

    for (let i = 0; i < 3; i += 1) expect((await send(port, `/api/${i}`)).status).toBe(200);
    for (let i = 0; i < 2; i += 1) expect((await send(port, '/shop')).status).toBe(503);
    expect((await send(port, '/nowhere')).status).toBe(403);
    expect((await send(port, '/drain')).status).toBe(403);
    // Round robin over two targets: one of the two requests picks the dead one, is retried on web1, and
    // the dead target is ejected after its first connect failure (ejectAfterFailures: 1).
    expect((await send(port, '/retry')).status).toBe(200);
    expect((await send(port, '/retry')).status).toBe(200);

    const text = await scrape(proxy);
    expect(sample(text, 'inteli_requests_total', { rule: '/api', backend: 'web1', status_class: '2xx' })).toBe(3);
    expect(sample(text, 'inteli_requests_total', { rule: '/api', backend: 'web1', status_class: '5xx' })).toBe(0);
    expect(sample(text, 'inteli_requests_total', { rule: '/shop', backend: 'web2', status_class: '5xx' })).toBe(2);
    expect(sample(text, 'inteli_requests_total', { rule: '/retry', backend: 'web1', status_class: '2xx' })).toBe(2);
    expect(sample(text, 'inteli_requests_total', { rule: '/retry', backend: 'dead', status_class: '2xx' })).toBe(0);
    expect(sample(text, 'inteli_upstream_latency_seconds_count', { rule: '/api' })).toBe(3);
    expect(sample(text, 'inteli_upstream_latency_seconds_bucket', { rule: '/api', le: '+Inf' })).toBe(3);
    expect(sample(text, 'inteli_upstream_latency_seconds_count', { rule: '/shop' })).toBe(2);
    expect(sample(text, 'inteli_refused_requests_total', { reason: 'NO_ROUTE' })).toBe(1);
    expect(sample(text, 'inteli_refused_requests_total', { reason: 'NO_TARGET' })).toBe(1);
    expect(sample(text, 'inteli_retries_total', { rule: '/retry', backend: 'dead' })).toBe(1);
    expect(sample(text, 'inteli_ejections_total', { backend: 'dead' })).toBe(1);
    expect(sample(text, 'inteli_targets', { rule: '/retry', state: 'ejected' })).toBe(1);
    expect(sample(text, 'inteli_targets', { rule: '/retry', state: 'ready' })).toBe(1);
    expect(sample(text, 'inteli_targets', { rule: '/drain', state: 'draining' })).toBe(1);
    expect(sample(text, 'inteli_targets', { rule: '/drain', state: 'ready' })).toBe(0);
    expect(sample(text, 'inteli_backends', { state: 'ready' })).toBe(3);
    expect(sample(text, 'inteli_backends', { state: 'draining' })).toBe(1);
    expect(sample(text, 'inteli_backends', { state: 'ejected' })).toBe(1);
    expect(sample(text, 'inteli_registrations_total')).toBe(5);
    expect(sample(text, 'inteli_in_flight_requests')).toBe(0);
    expect(sample(text, 'inteli_websocket_tunnels')).toBe(0);
    expect(sample(text, 'inteli_client_received_bytes_total')).toBeGreaterThan(0);
    expect(sample(text, 'inteli_client_sent_bytes_total')).toBeGreaterThan(0);
  });

  it('counts removals by reason and drops a departed backend\'s request series (issue 14: state is freed)', async () => {
    const web1 = await backend('web1');
    const added = register(proxy, web1, ['/api']);
    expect((await send(port, '/api')).status).toBe(200);
    proxy.registry.remove(added.id, 'left');
    expect((await send(port, '/api')).status).toBe(403);

    const text = await scrape(proxy);
    expect(sample(text, 'inteli_backend_removals_total', { reason: 'left' })).toBe(1);
    expect(sample(text, 'inteli_requests_total', { rule: '/api', backend: 'web1', status_class: '2xx' })).toBeUndefined();
    expect(sample(text, 'inteli_refused_requests_total', { reason: 'NO_ROUTE' })).toBe(1);
    expect(sample(text, 'inteli_targets', { rule: '/api', state: 'ready' })).toBeUndefined();
  });

  it('keeps each proxy\'s metrics on its own registry', async () => {
    const other = await startProxy({ admin: ADMIN });
    try {
      const web1 = await backend('web1');
      register(proxy, web1, ['/api']);
      register(other.proxy, web1, ['/api']);
      expect((await send(port, '/api')).status).toBe(200);
      expect((await send(port, '/api')).status).toBe(200);
      expect((await send(other.port, '/api')).status).toBe(200);
      expect(sample(await scrape(proxy), 'inteli_requests_total', { rule: '/api', backend: 'web1', status_class: '2xx' })).toBe(2);
      expect(sample(await scrape(other.proxy), 'inteli_requests_total', { rule: '/api', backend: 'web1', status_class: '2xx' })).toBe(1);
    } finally {
      await other.proxy.stop();
    }
  });

  it('labels requests only with registered rules, never with the raw path', async () => {
    const web1 = await backend('web1');
    register(proxy, web1, ['/api']);
    expect((await send(port, '/api/users/12345?token=secret')).status).toBe(200);
    const text = await scrape(proxy);
    expect(text).not.toContain('12345');
    expect(text).not.toContain('secret');
    expect(text).not.toContain('127.0.0.1');
  });

  it('serves the Prometheus text format: inteli_ metrics, then the standard process_ and nodejs_ ones', async () => {
    const response = await adminGet(proxy, '/metrics');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    const names = response.body
      .split('\n')
      .filter((line) => line.startsWith('# TYPE '))
      .map((line) => line.split(' ')[2] as string);
    expect(names.filter((name) => name.startsWith('inteli_')).length).toBeGreaterThan(15);
    for (const name of names) expect(name).toMatch(/^(inteli|process|nodejs)_/);
    // prom-client's default collectors, under the names Node dashboards expect.
    expect(names).toEqual(expect.arrayContaining(['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']));
    expect(sample(response.body, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    // Each metric is described once, even with several proxies in the process.
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('/metrics with an agent on the control plane', () => {
  let proxy: ProxyServer;
  let port: number;
  let trustStore: TrustStore;
  let agent: ProxyWebServer | undefined;

  beforeEach(async () => {
    trustStore = TrustStore.inMemory();
    ({ proxy, port } = await startProxy({
      trustStore,
      control: { host: '127.0.0.1', port: 0, tls: await testCertificate(), heartbeatIntervalMs: 1000 },
      admin: ADMIN,
    }));
  });

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    await proxy.stop();
  });

  it('counts the registration, the session, traffic, a refused token and the removal with its reason', async () => {
    const { privateJwk, publicJwk } = await generateKeyPair('WEB1');
    await trustStore.add({ id: 'WEB1', publicKey: publicJwk, scope: { rules: ['/web'], hosts: ['127.0.0.1'] } });
    agent = new ProxyWebServer({
      proxyUrl: proxy.controlPlane!.url,
      agentId: 'WEB1',
      key: privateJwk,
      server: http.createServer((_req, res) => res.end('WEB1')),
      rules: ['/web'],
      pin: proxy.pin,
      drainTimeoutMs: 5000,
    });
    await agent.start();
    expect((await send(port, '/web/page')).body).toBe('WEB1');

    const refused = await tryDial(proxy.controlPlane!.url, { token: 'not-a-jwt', ca: (await testCertificate()).cert });
    expect(refused.ok).toBe(false);

    let text = await scrape(proxy);
    expect(sample(text, 'inteli_registrations_total')).toBe(1);
    expect(sample(text, 'inteli_control_sessions')).toBe(1);
    expect(sample(text, 'inteli_targets', { rule: '/web', state: 'ready' })).toBe(1);
    expect(sample(text, 'inteli_requests_total', { rule: '/web', backend: 'WEB1', status_class: '2xx' })).toBe(1);
    expect(sample(text, 'inteli_control_auth_failures_total', { reason: 'malformed' })).toBe(1);
    expect(sample(text, 'inteli_control_upgrades_refused_total', { reason: 'unauthorized' })).toBe(1);

    const closed = nextEvent(proxy.controlPlane!, 'session_closed');
    const removed = nextEvent<[unknown, string]>(proxy, 'backend_removed');
    await agent.stop();
    agent = undefined;
    expect((await removed)[1]).toBe('drained');
    await closed;

    text = await scrape(proxy);
    expect(sample(text, 'inteli_backend_removals_total', { reason: 'drained' })).toBe(1);
    expect(sample(text, 'inteli_control_sessions')).toBe(0);
    expect(sample(text, 'inteli_backends', { state: 'ready' })).toBe(0);
  });
});
