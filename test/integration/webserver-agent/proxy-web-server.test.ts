import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startControlPlane, nextEvent, testCertificate, type ControlPlaneFixture, type TestKey } from '../../helpers/control-plane-fixture.js';
import { withTimeout } from '../../helpers/control-plane-client.js';
import { ControlPlane } from '../../../src/proxy/control-plane/control-plane.js';
import { ProxyWebServer, type ProxyWebServerOptions } from '../../../src/webserver-agent/proxy-web-server.js';
import type { Backend } from '../../../src/proxy/registry/backend.js';
import { createLogger } from '../../../src/shared/logger.js';
import { Writable } from 'node:stream';

let fixture: ControlPlaneFixture;
let key: TestKey;
const cleanups: Array<() => Promise<unknown>> = [];

function helloServer(text = 'hello'): http.Server {
  return http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(text);
  });
}

function get(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

function agent(options: Partial<ProxyWebServerOptions> = {}): ProxyWebServer {
  const web = new ProxyWebServer({
    proxyUrl: fixture.url,
    agentId: key.id,
    key: key.privateJwk,
    server: helloServer(),
    rules: ['/api'],
    pin: fixture.controlPlane.pin,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    closeGraceMs: 1000,
    drainTimeoutMs: 2000,
    ...options,
  });
  cleanups.push(() => web.stop());
  return web;
}

beforeEach(async () => {
  fixture = await startControlPlane();
  cleanups.push(() => fixture.close());
  key = await fixture.addKey('WEB001', { scope: { rules: ['/api', '/test'] } });
});

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

describe('ProxyWebServer against the real control plane', () => {
  it('start() listens the server and resolves only once the registration is live in the registry', async () => {
    const server = helloServer();
    const web = agent({ server });
    const registered = nextEvent<[{ target: { host: string; port: number }; result: { backendId: string } }]>(web, 'registered');
    await web.start();
    const port = (server.address() as AddressInfo).port;
    const [backend] = fixture.registry.list();
    expect(backend).toMatchObject({ agentId: 'WEB001', targets: [{ host: '127.0.0.1', port, protocol: 'http' }] });
    expect(backend!.rules.map((rule) => rule.path)).toEqual(['/api']);
    const [info] = await registered;
    expect(info.result.backendId).toBe(backend!.id);
    expect(web.state).toBe('running');
    expect((await get(port)).body).toBe('hello');
  });

  it('start() is idempotent: a second call returns the same promise', async () => {
    const web = agent();
    const first = web.start();
    expect(web.start()).toBe(first);
    await first;
    expect(fixture.registry.list()).toHaveLength(1);
  });

  it('verifies the proxy with a CA file content instead of a pin', async () => {
    const { cert } = await testCertificate();
    await agent({ pin: undefined, ca: cert }).start();
    expect(fixture.registry.list()).toHaveLength(1);
  });

  it('rejects with RP_ERR_TLS on a wrong pin, and closes the server it opened', async () => {
    const server = helloServer();
    const web = agent({ server, pin: 'A'.repeat(43) + '=' });
    await expect(web.start()).rejects.toMatchObject({ code: 'RP_ERR_TLS' });
    expect(server.listening).toBe(false);
    expect(fixture.controlPlane.sessionCount).toBe(0);
  });

  it('rejects with RP_ERR_TLS without a pin or CA (self-signed proxy, system CAs)', async () => {
    await expect(agent({ pin: undefined }).start()).rejects.toMatchObject({ code: 'RP_ERR_TLS' });
  });

  it('rejects with RP_ERR_UNAUTHORIZED when the key is unknown to the proxy (401)', async () => {
    const stranger = await fixture.addKey('WEB404', { scope: { rules: ['/api'], hosts: ['127.0.0.1'] } });
    await fixture.trustStore.remove('WEB404');
    const web = agent({ agentId: stranger.id, key: stranger.privateJwk });
    await expect(web.start()).rejects.toMatchObject({ code: 'RP_ERR_UNAUTHORIZED' });
    expect(web.state).toBe('idle');
  });

  it('rejects with the proxy code RP_ERR_OUT_OF_SCOPE for a rule outside the key scope, and registers nothing', async () => {
    const error = await agent({ rules: ['/'] }).start().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RP_ERR_OUT_OF_SCOPE', name: 'ControlError' });
    expect(fixture.registry.list()).toHaveLength(0);
  });

  it('rejects with RP_ERR_OUT_OF_SCOPE for a target outside the key scope (SSRF)', async () => {
    const web = agent({ target: { host: '10.1.2.3' } });
    await expect(web.start()).rejects.toMatchObject({ code: 'RP_ERR_OUT_OF_SCOPE' });
  });

  it('stop() drains (proxy sends drained), removes the backend, closes the server; a second stop returns the same promise', async () => {
    const server = helloServer();
    const web = agent({ server });
    await web.start();
    const removed = nextEvent<[Backend, string]>(fixture.controlPlane, 'backend_removed');
    const stopping = web.stop();
    expect(web.stop()).toBe(stopping);
    await stopping;
    const [, reason] = await removed;
    expect(reason).toBe('drained');
    expect(fixture.registry.list()).toHaveLength(0);
    expect(server.listening).toBe(false);
    expect(web.state).toBe('stopped');
    await expect(web.start()).rejects.toMatchObject({ code: 'RP_ERR_NOT_RUNNING' });
  });

  it('stop() called while start() is in progress still drains the registration', async () => {
    const web = agent();
    const removed = nextEvent<[Backend, string]>(fixture.controlPlane, 'backend_removed');
    const starting = web.start();
    const stopping = web.stop();
    await starting;
    await stopping;
    expect((await removed)[1]).toBe('drained');
    expect(web.state).toBe('stopped');
  });

  it('stop() lets a request in flight finish with 200 before the server closes', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let arrived: () => void = () => undefined;
    const inHandler = new Promise<void>((resolve) => (arrived = resolve));
    const server = http.createServer((_req, res) => {
      arrived();
      void gate.then(() => res.end('slow but fine'));
    });
    const web = agent({ server, closeGraceMs: 5000 });
    await web.start();
    const response = get((server.address() as AddressInfo).port, '/api/slow');
    await inHandler;
    const stopped = web.stop();
    await nextEvent(fixture.controlPlane, 'backend_removed');
    release();
    await expect(response).resolves.toEqual({ status: 200, body: 'slow but fine' });
    await stopped;
    expect(server.listening).toBe(false);
  });

  it('keeps serving while the proxy is down and re-registers when it comes back (proxy restart)', async () => {
    const server = helloServer('still here');
    const web = agent({ server });
    await web.start();
    const port = fixture.controlPlane.address.port;
    const disconnected = nextEvent(web, 'disconnected');
    await fixture.controlPlane.stop();
    await disconnected;
    // The original shut its web server down here; this one keeps serving.
    expect((await get((server.address() as AddressInfo).port)).body).toBe('still here');
    await nextEvent(web, 'reconnecting');
    const restarted = new ControlPlane({ host: '127.0.0.1', port, tls: fixture.cert, registry: fixture.registry, trustStore: fixture.trustStore, heartbeatIntervalMs: 1000 });
    cleanups.push(() => restarted.stop());
    const registered = nextEvent(web, 'registered', 10_000);
    await restarted.start();
    await registered;
    expect(fixture.registry.list().map((backend) => backend.agentId)).toEqual(['WEB001']);
  });

  it('signs a fresh token for every dial (a reconnect is not refused as a replay)', async () => {
    const web = agent();
    await web.start();
    const registered = nextEvent(web, 'registered');
    // Cut every session from the proxy side: the agent must redial with a new jti.
    expect(fixture.controlPlane.sessions().map((session) => session.agentId)).toEqual(['WEB001']);
    await fixture.trustStore.remove('WEB001');
    await fixture.trustStore.add({ id: 'WEB001', publicKey: { kty: 'OKP', crv: 'Ed25519', x: key.privateJwk.x }, scope: { rules: ['/api'], hosts: ['127.0.0.1'] } });
    await registered;
    expect(fixture.registry.list()).toHaveLength(1);
  });

  it('a removed key closes the live session (4003): the agent reports RP_ERR_FORBIDDEN and retries at the max delay until the key is back', async () => {
    const web = agent({ reconnect: { initialDelayMs: 20, maxDelayMs: 150, jitter: 0 } });
    await web.start();
    const errors: string[] = [];
    web.on('error', (error) => errors.push(error.code));
    const disconnected = nextEvent<[{ code: number }]>(web, 'disconnected');
    const reconnecting = nextEvent<[{ delayMs: number }]>(web, 'reconnecting');
    await fixture.trustStore.remove('WEB001');
    expect((await disconnected)[0].code).toBe(4003);
    expect((await reconnecting)[0].delayMs).toBe(150);
    expect(errors).toContain('RP_ERR_FORBIDDEN');
    // A failed redial (401, key still absent) is reported too, then retried at the max delay.
    const failedAgain = nextEvent<[{ delayMs: number }]>(web, 'reconnecting');
    expect((await failedAgain)[0].delayMs).toBe(150);
    expect(errors).toContain('RP_ERR_UNAUTHORIZED');
    const registered = nextEvent(web, 'registered');
    await fixture.trustStore.add({ id: 'WEB001', publicKey: { kty: 'OKP', crv: 'Ed25519', x: key.privateJwk.x }, scope: { rules: ['/api'], hosts: ['127.0.0.1'] } });
    await registered;
  });

  it('never logs its token or private key, even at trace level and on failures', async () => {
    let logs = '';
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logs += chunk.toString();
        callback();
      },
    });
    const logger = createLogger({ level: 'trace', destination });
    const web = agent({ logger });
    await web.start();
    await fixture.trustStore.remove('WEB001');
    await nextEvent(web, 'reconnecting');
    await web.stop();
    await agent({ logger, rules: ['/'] }).start().catch(() => undefined);
    expect(logs).toContain('registered with the proxy');
    expect(logs).not.toMatch(/Bearer|eyJ/);
    expect(logs).not.toContain(key.privateJwk.d);
  });

  it('send(type, action, payload) reaches the proxy as a custom event (original API)', async () => {
    const web = agent();
    await web.start();
    const message = nextEvent<[{ agentId: string; name: string; data: unknown }]>(fixture.controlPlane, 'message');
    await web.send('cache', 'purge', { path: '/api/x' });
    expect((await message)[0]).toEqual({ agentId: 'WEB001', name: 'cache', data: { action: 'purge', payload: { path: '/api/x' } } });
    await expect(web.send('bad name!', 'x')).rejects.toMatchObject({ code: 'RP_ERR_INVALID_OPTION' });
  });

  it('emits custom events sent by the proxy', async () => {
    const web = agent();
    await web.start();
    const event = nextEvent<[string, unknown]>(web, 'event');
    expect(fixture.controlPlane.sendEvent('WEB001', 'config.reload', { v: 2 })).toBe(1);
    expect(await event).toEqual(['config.reload', { v: 2 }, fixture.url]);
  });

  it('a sidecar-style agent (no server, explicit target) registers an existing server and does not close it', async () => {
    const server = helloServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const port = (server.address() as AddressInfo).port;
    const web = agent({ server: undefined, target: { host: '127.0.0.1', port } });
    await web.start();
    expect(fixture.registry.list()[0]!.targets[0]).toMatchObject({ host: '127.0.0.1', port });
    await web.stop();
    expect(server.listening).toBe(true);
  });

  it('does not close a server that was already listening before start()', async () => {
    const server = helloServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const web = agent({ server });
    await web.start();
    await web.stop();
    expect(server.listening).toBe(true);
  });

  it('stops reconnecting when superseded (4009) by another agent with the same id and target', async () => {
    const server = helloServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const target = { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
    const first = agent({ server: undefined, target });
    await first.start();
    const errors: string[] = [];
    first.on('error', (error) => errors.push(error.message));
    const disconnected = nextEvent<[{ code: number }]>(first, 'disconnected');
    const second = agent({ server: undefined, target });
    await second.start();
    expect((await disconnected)[0].code).toBe(4009);
    expect(errors.join()).toMatch(/superseded/);
    let reconnecting = false;
    first.on('reconnecting', () => (reconnecting = true));
    await withTimeout(second.stop(), 5000, 'second.stop');
    expect(reconnecting).toBe(false);
  });
});
