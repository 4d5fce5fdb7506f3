/**
 * The JSON status API while agents join, drain and leave through the real control plane, the health and
 * readiness probes (readiness flips to 503 as soon as stop() begins), and the listener's basics.
 */
import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import type http from 'node:http';
import type { TrustStore } from '../../../src/shared/trust/index.js';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import type { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import type { StatusReport } from '../../../src/proxy/admin/status-report.js';
import { startBackend, type TestBackend } from '../../helpers/data-plane-backends.js';
import { register, send, startProxy } from '../../helpers/data-plane-client.js';
import { nextEvent, testCertificate } from '../../helpers/control-plane-fixture.js';
import { tryDial, withTimeout } from '../../helpers/control-plane-client.js';
import { startAgentProxy, type AgentProxy } from '../../helpers/agent-proxy.js';
import { adminGet } from './admin-client.js';

async function status(proxy: ProxyServer): Promise<StatusReport> {
  const response = await adminGet(proxy, '/api/status');
  expect(response.status).toBe(200);
  return JSON.parse(response.body) as StatusReport;
}

/** Polls the status until `predicate` holds (the sampler runs on its own timer). */
async function statusWhen(proxy: ProxyServer, predicate: (report: StatusReport) => boolean): Promise<StatusReport> {
  return withTimeout(
    (async () => {
      for (;;) {
        const report = await status(proxy);
        if (predicate(report)) return report;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })(),
    5000,
    'a matching status',
  );
}

describe('JSON status with agents on the control plane', () => {
  let proxy: ProxyServer;
  let port: number;
  let trustStore: TrustStore;
  let fixture: AgentProxy;

  beforeEach(async () => {
    fixture = await startAgentProxy({ admin: { sampleIntervalMs: 100 } });
    ({ proxy, port, trustStore } = fixture);
  });

  afterEach(async () => {
    await fixture.stop();
  });

  const agent = (id: string, rule: string, handler: http.RequestListener): Promise<ProxyWebServer> => fixture.agent(id, rule, handler);

  it('shows targets as they join, drain and leave, with keys (no key material) and events', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => undefined;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const web1 = await agent('WEB1', '/slow', (_req, res) => {
      entered();
      void gate.then(() => res.end('done'));
    });
    const web2 = await agent('WEB2', '/fast', (_req, res) => res.end('fast'));
    await web1.start();
    await web2.start();

    let report = await status(proxy);
    expect(report.proxy.ready).toBe(true);
    expect(report.proxy.authRequired).toBe(false);
    expect(report.proxy.listeners.control).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(report.rules.map((rule) => rule.rule).sort()).toEqual(['/fast', '/slow']);
    const slow = report.rules.find((rule) => rule.rule === '/slow')!;
    expect(slow.readyTargets).toBe(1);
    expect(slow.targets).toHaveLength(1);
    const target = slow.targets[0]!;
    expect(target).toMatchObject({ agentId: 'WEB1', state: 'ready', weight: 1, inFlight: 0, fingerprint: trustStore.get('WEB1')!.fingerprint });
    expect(target.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Date.parse(target.registeredAt!)).toBeLessThanOrEqual(Date.now());
    expect(report.keys!.map((key) => key.id).sort()).toEqual(['WEB1', 'WEB2']);
    expect(report.keys![0]).toEqual({ id: expect.any(String), role: 'agent', fingerprint: expect.any(String), createdAt: expect.any(String), scope: expect.any(Object), sessions: 1 });
    expect(JSON.stringify(report.keys)).not.toContain(trustStore.get('WEB1')!.publicKey.x);
    expect(report.sessions.map((session) => session.agentId).sort()).toEqual(['WEB1', 'WEB2']);
    expect(report.events.filter((event) => event.type === 'backend_added').map((event) => event.agentId).sort()).toEqual(['WEB1', 'WEB2']);

    // Drain WEB1 while a request is in flight on it: the status shows it draining with the request.
    const inFlight = send(port, '/slow');
    await inHandler;
    const draining = nextEvent(proxy.registry, 'updated');
    const stopped = web1.stop();
    await draining;
    report = await status(proxy);
    const drainingTarget = report.rules.find((rule) => rule.rule === '/slow')!.targets[0]!;
    expect(drainingTarget).toMatchObject({ agentId: 'WEB1', state: 'draining', inFlight: 1 });
    expect(report.rules.find((rule) => rule.rule === '/slow')!.readyTargets).toBe(0);

    const removed = nextEvent(proxy, 'backend_removed');
    release();
    expect((await inFlight).body).toBe('done');
    await removed;
    await stopped;

    report = await status(proxy);
    expect(report.rules.map((rule) => rule.rule)).toEqual(['/fast']);
    expect(report.removed[0]).toMatchObject({ type: 'backend_removed', agentId: 'WEB1', reason: 'drained', rules: ['/slow'] });
    expect(report.events[0]!.seq).toBeGreaterThan(report.events[1]!.seq);
  });

  it('records control-plane auth failures and request rates from the sampler', async () => {
    const web2 = await agent('WEB2', '/fast', (_req, res) => res.end('fast'));
    await web2.start();
    for (let i = 0; i < 4; i += 1) expect((await send(port, '/fast')).body).toBe('fast');
    const refused = await tryDial(proxy.controlPlane!.url, { token: 'junk', ca: (await testCertificate()).cert });
    expect(refused.ok).toBe(false);

    const report = await statusWhen(
      proxy,
      (r) => r.events.some((event) => event.type === 'auth_failure') && r.rates.samples.some((s) => (s.backends.WEB2 ?? 0) > 0),
    );
    expect(report.events.find((event) => event.type === 'auth_failure')).toMatchObject({ reason: 'malformed', count: 1 });
    expect(report.rates.intervalMs).toBe(100);
    const total = report.rates.samples.reduce((sum, s) => sum + (s.rules['/fast'] ?? 0) * 0.1, 0);
    expect(total).toBeGreaterThan(0);
  });
});

describe('traffic health in the status (error rates, latency, refusals, last error)', () => {
  let proxy: ProxyServer;
  let port: number;
  const backends: TestBackend[] = [];

  afterEach(async () => {
    await proxy.stop();
    await Promise.all(backends.splice(0).map((backend) => backend.close()));
  });

  it('shows a backend answering 500 as failing, per rule and per backend, with its last error and time', async () => {
    // A long sampling interval: no checkpoint is taken during the test, so the window is "since start".
    ({ proxy, port } = await startProxy({ admin: { host: '127.0.0.1', port: 0, sampleIntervalMs: 60_000 } }));
    const good = await startBackend('good', (req, res) => {
      req.resume();
      res.statusCode = req.url === '/api/missing' ? 404 : 200;
      res.end('good');
    });
    const broken = await startBackend('broken', (req, res) => {
      req.resume();
      res.statusCode = 500;
      res.end('broken');
    });
    backends.push(good, broken);
    register(proxy, good, ['/api']);
    register(proxy, broken, ['/pay']);
    const idle = register(proxy, good, ['/idle']);
    proxy.registry.setState(idle.id, 'draining');
    const before = Date.now();
    for (let i = 0; i < 3; i += 1) expect((await send(port, '/api')).status).toBe(200);
    expect((await send(port, '/api/missing')).status).toBe(404);
    for (let i = 0; i < 4; i += 1) expect((await send(port, '/pay')).status).toBe(500);
    expect((await send(port, '/idle')).status).toBe(403);
    expect((await send(port, '/nowhere')).status).toBe(403);

    const { traffic, rules } = await status(proxy);
    expect(traffic.rules['/api']).toMatchObject({ requests: 4, classes: { '2xx': 3, '4xx': 1, '5xx': 0 }, errorRate: 0.25, failureRate: 0, noTarget: 0 });
    expect(traffic.rules['/pay']).toMatchObject({ requests: 4, classes: { '5xx': 4 }, errorRate: 1, failureRate: 1 });
    expect(traffic.rules['/idle']).toMatchObject({ requests: 0, noTarget: 1 });
    expect(traffic.backends.broken).toMatchObject({ requests: 4, failureRate: 1 });
    expect(traffic.backends.good).toMatchObject({ requests: 4, failureRate: 0 });
    expect(traffic.refused).toEqual({ NO_ROUTE: 1, NO_TARGET: 1, LOOP_DETECTED: 0, TUNNEL_LIMIT: 0 });
    for (const figures of [traffic.rules['/api']!, traffic.backends.broken!]) {
      expect(figures.p50Ms).toBeGreaterThan(0);
      expect(figures.p99Ms).toBeGreaterThanOrEqual(figures.p50Ms!);
    }
    expect(traffic.windowMs).toBeGreaterThan(0);
    const target = rules.find((rule) => rule.rule === '/pay')!.targets[0]!;
    expect(target.lastError).toBe('HTTP 500 from the backend');
    expect(Date.parse(target.lastErrorAt!)).toBeGreaterThanOrEqual(before - 1000);
    expect(rules.find((rule) => rule.rule === '/api')!.targets[0]!.lastError).toBeUndefined();
  });
});

describe('health and readiness', () => {
  let proxy: ProxyServer;
  let port: number;
  let backend: TestBackend;

  afterEach(async () => {
    await proxy.stop();
    await backend.close();
  });

  it('answers /healthz and /readyz 200 while running, and /readyz 503 as soon as stop() begins', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => undefined;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    backend = await startBackend('slow', (req, res) => {
      req.resume();
      entered();
      void gate.then(() => res.end('late'));
    });
    ({ proxy, port } = await startProxy({ admin: { host: '127.0.0.1', port: 0 } }));
    register(proxy, backend, ['/slow']);
    expect((await adminGet(proxy, '/healthz')).status).toBe(200);
    const ready = await adminGet(proxy, '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ ready: true });

    const inFlight = send(port, '/slow');
    await inHandler;
    const adminPort = proxy.addresses.admin!.port;
    const stopping = proxy.stop();
    expect(proxy.ready).toBe(false);
    // The data plane waits for the request in flight; the admin listener is still up and says so.
    const notReady = await send(adminPort, '/readyz');
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body)).toEqual({ ready: false });
    expect((await send(adminPort, '/healthz')).status).toBe(200);
    release();
    expect((await inFlight).body).toBe('late');
    await stopping;
    await expect(send(adminPort, '/healthz')).rejects.toThrow();
  });

  it('answers 404 for unknown paths, 405 for other methods, and serves the page with a strict CSP', async () => {
    backend = await startBackend('any');
    ({ proxy, port } = await startProxy({ admin: { host: '127.0.0.1', port: 0 } }));
    expect((await adminGet(proxy, '/nope')).status).toBe(404);
    const post = await send(proxy.addresses.admin!.port, '/api/status', { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const page = await adminGet(proxy, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'sha256-/);
    expect(page.body).toContain('<title>inteli-proxy status</title>');
    // Self-contained: nothing is loaded from elsewhere (the SVG namespace URI is not a request).
    expect(page.body).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect(page.body).not.toMatch(/@import|url\(/);
  });

  it('fails start() with RP_ERR_LISTEN naming the admin address when the port is taken, leaving no listener', async () => {
    backend = await startBackend('any');
    ({ proxy, port } = await startProxy({ admin: { host: '127.0.0.1', port: 0 } }));
    const taken = proxy.addresses.admin!.port;
    const { ProxyServer } = await import('../../../src/proxy/proxy-server.js');
    const second = new ProxyServer({ host: '127.0.0.1', port: 0, control: false, admin: { host: '127.0.0.1', port: taken } });
    await expect(second.start()).rejects.toMatchObject({ code: 'RP_ERR_LISTEN', message: expect.stringContaining(`127.0.0.1:${taken}`) });
    // Nothing is left listening: the data plane started first and was closed again.
    const httpPort = second.dataPlane.addresses.http?.port;
    if (httpPort !== undefined) await expect(send(httpPort, '/')).rejects.toThrow();
    expect(second.addresses.admin).toBeUndefined();
    expect(second.ready).toBe(false);
    await second.stop();
  });

  it('is off by default and leaves no admin address', async () => {
    backend = await startBackend('any');
    ({ proxy, port } = await startProxy());
    expect(proxy.addresses.admin).toBeUndefined();
    expect(proxy.admin).toBeUndefined();
    expect(proxy.ready).toBe(true);
    expect((await proxy.metrics.exposition()).body).toContain('inteli_requests_total');
  });
});
