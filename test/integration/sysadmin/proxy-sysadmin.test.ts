import { describe, it, expect, beforeAll, afterAll, afterEach } from '@jest/globals';
import { createPublicKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startControlPlane, nextEvent, type ControlPlaneFixture, type TestKey } from '../../helpers/control-plane-fixture.js';
import { ProxySysAdmin, type ProxySysAdminOptions } from '../../../src/sysadmin/proxy-sysadmin.js';
import { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import { ControlError } from '../../../src/shared/errors.js';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { fingerprint } from '../../../src/shared/identity/fingerprint.js';
import type { AgentEvent } from '../../../src/proxy/control-plane/control-context.js';
import { helloServer, startStubProxy, writeJson, type StubProxy } from './sysadmin-helpers.js';

let fixture: ControlPlaneFixture;
let admin: TestKey;
let dir: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  fixture = await startControlPlane();
  admin = await fixture.addKey('ops', { role: 'admin' });
  dir = await mkdtemp(path.join(tmpdir(), 'inteli-sysadmin-api-'));
});

afterAll(async () => {
  await fixture.close();
  await rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

function client(options: Partial<ProxySysAdminOptions> = {}): ProxySysAdmin {
  const sysadmin = new ProxySysAdmin({ proxyUrl: fixture.url, adminId: admin.id, key: admin.privateJwk, pin: fixture.controlPlane.pin, ...options });
  cleanups.push(() => sysadmin.stop());
  return sysadmin;
}

async function started(options: Partial<ProxySysAdminOptions> = {}): Promise<ProxySysAdmin> {
  const sysadmin = client(options);
  await sysadmin.start();
  return sysadmin;
}

/** Resolves with the rejection of `promise` (fails when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<ControlError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ControlError);
    return error as ControlError;
  }
  throw new Error('expected a rejection');
}

describe('ProxySysAdmin lifecycle', () => {
  it('start() and stop() are idempotent and report the state', async () => {
    const sysadmin = client();
    const first = sysadmin.start();
    expect(sysadmin.start()).toBe(first);
    await first;
    expect(sysadmin.state).toBe('running');
    expect(sysadmin.connected).toBe(true);
    const stopping = sysadmin.stop();
    expect(sysadmin.stop()).toBe(stopping);
    await stopping;
    expect(sysadmin.state).toBe('stopped');
    expect((await rejection(sysadmin.start())).code).toBe('RP_ERR_NOT_RUNNING');
  });

  it('a call before start() rejects with RP_ERR_NOT_RUNNING', async () => {
    expect((await rejection(client().listKeys())).code).toBe('RP_ERR_NOT_RUNNING');
  });

  it('reads the admin key from a .key.json file', async () => {
    const file = await writeJson(dir, 'ops.key.json', admin.privateJwk);
    const sysadmin = await started({ key: file });
    expect((await sysadmin.listKeys()).map((key) => key.id)).toContain('ops');
  });
});

describe('ProxySysAdmin key management', () => {
  it('addPublicKey trusts a JWK with role and scope, listKeys shows it, removePublicKey removes it', async () => {
    const sysadmin = await started();
    const { publicJwk } = await generateKeyPair('API001');
    const added = await sysadmin.addPublicKey('API001', publicJwk, { rules: ['/api'], hosts: ['127.0.0.1'] });
    expect(added).toMatchObject({ id: 'API001', role: 'agent', scope: { rules: ['/api'], hosts: ['127.0.0.1'] }, fingerprint: await fingerprint(publicJwk), sessions: 0 });
    expect(fixture.trustStore.get('API001')?.fingerprint).toBe(added.fingerprint);
    expect((await sysadmin.listKeys()).find((key) => key.id === 'API001')).toEqual(added);
    expect(await sysadmin.removePublicKey('API001')).toEqual({ keyId: 'API001', closedSessions: 0 });
    expect(fixture.trustStore.get('API001')).toBeUndefined();
  });

  it('addPublicKey reads a .pub.json file and an SPKI PEM file', async () => {
    const sysadmin = await started();
    const jwkPair = await generateKeyPair('API002');
    const jwkFile = await writeJson(dir, 'API002.pub.json', jwkPair.publicJwk);
    expect((await sysadmin.addPublicKey('API002', jwkFile, { rules: ['/a'] })).fingerprint).toBe(await fingerprint(jwkPair.publicJwk));
    const pemPair = await generateKeyPair();
    const pem = createPublicKey({ key: { ...pemPair.publicJwk }, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    const pemFile = path.join(dir, 'API003.pem');
    await writeFile(pemFile, pem);
    expect((await sysadmin.addPublicKey('API003', pemFile, { rules: ['/b'] }, { role: 'admin' })).role).toBe('admin');
    expect(fixture.trustStore.get('API003')?.fingerprint).toBe(await fingerprint(pemPair.publicJwk));
  });

  it('refuses, before sending, a scope rule that registration would refuse (/api/*, /(x|y), ^/x.*)', async () => {
    const sysadmin = await started();
    const { publicJwk } = await generateKeyPair();
    for (const rule of ['/api/*', '/(x|y)', '^/x.*']) {
      const error = await rejection(sysadmin.addPublicKey('API009', publicJwk, { rules: ['/ok', rule] }));
      expect(error.code).toBe('RP_ERR_INVALID_OPTION');
      expect(error.message).toContain(`scope.rules: invalid rule ${JSON.stringify(rule)}`);
    }
    expect(fixture.trustStore.get('API009')).toBeUndefined();
  });

  it('an existing id is refused with RP_ERR_ALREADY_EXISTS unless replace is set', async () => {
    const sysadmin = await started();
    const first = await generateKeyPair();
    const second = await generateKeyPair();
    await sysadmin.addPublicKey('API004', first.publicJwk, { rules: ['/x'] });
    expect((await rejection(sysadmin.addPublicKey('API004', second.publicJwk, { rules: ['/x'] }))).code).toBe('RP_ERR_ALREADY_EXISTS');
    const replaced = await sysadmin.addPublicKey('API004', second.publicJwk, { rules: ['/y'] }, { replace: true });
    expect(replaced).toMatchObject({ fingerprint: await fingerprint(second.publicJwk), scope: { rules: ['/y'] } });
  });

  it('replacing a key closes its live sessions; the agent gets back in under the new scope', async () => {
    const agentKey = await fixture.addKey('API008', { scope: { rules: ['/old'] } });
    const web = new ProxyWebServer({ proxyUrl: fixture.url, agentId: agentKey.id, key: agentKey.privateJwk, server: helloServer(), rules: ['/new'], pin: fixture.controlPlane.pin, reconnect: { initialDelayMs: 20, maxDelayMs: 50 } });
    web.on('error', () => undefined);
    cleanups.push(() => web.stop());
    await expect(web.start()).rejects.toMatchObject({ code: 'RP_ERR_OUT_OF_SCOPE' });
    const sysadmin = await started();
    const publicJwk = fixture.trustStore.get('API008')!.publicKey;
    await sysadmin.addPublicKey('API008', publicJwk, { rules: ['/new'], hosts: ['127.0.0.1'] }, { replace: true });
    await web.start();
    const disconnected = nextEvent<[{ code: number }]>(web, 'disconnected');
    const registered = nextEvent(web, 'registered');
    await sysadmin.addPublicKey('API008', publicJwk, { rules: ['/new', '/more'], hosts: ['127.0.0.1'] }, { replace: true });
    expect((await disconnected)[0].code).toBe(4003);
    await registered;
    expect(fixture.registry.list().filter((item) => item.agentId === 'API008')).toHaveLength(1);
  });

  it('rejects bad input with the code of the problem', async () => {
    const sysadmin = await started();
    const { privateJwk, publicJwk } = await generateKeyPair();
    expect((await rejection(sysadmin.addPublicKey('../evil', publicJwk))).code).toBe('RP_ERR_INVALID_ID');
    expect((await rejection(sysadmin.addPublicKey('API005', { kty: 'OKP', crv: 'Ed25519', x: 'short' }))).code).toBe('RP_ERR_INVALID_KEY');
    const privateError = await rejection(sysadmin.addPublicKey('API005', privateJwk));
    expect(privateError).toMatchObject({ code: 'RP_ERR_INVALID_KEY', message: expect.stringContaining('private key material') });
    expect((await rejection(sysadmin.addPublicKey('API005', path.join(dir, 'missing.pub.json')))).message).toContain('no such file');
    expect((await rejection(sysadmin.removePublicKey('NOPE'))).code).toBe('RP_ERR_UNKNOWN_ID');
    expect((await rejection(sysadmin.drainBackend('NOPE'))).code).toBe('RP_ERR_UNKNOWN_ID');
    expect((await rejection(sysadmin.addPublicKey('API005', publicJwk, { rules: ['no-slash'] }))).code).toBe('RP_ERR_INVALID_OPTION');
    expect((await rejection(sysadmin.removePublicKey('ops'))).code).toBe('RP_ERR_FORBIDDEN');
    expect((await rejection(sysadmin.addPublicKey('ops', publicJwk, undefined, { role: 'admin', replace: true }))).code).toBe('RP_ERR_FORBIDDEN');
    expect(fixture.trustStore.get('API005')).toBeUndefined();
  });

  it('an agent key may connect but every admin call is refused with RP_ERR_FORBIDDEN', async () => {
    const agentKey = await fixture.addKey('API006', { scope: { rules: ['/z'] } });
    const sysadmin = await started({ adminId: agentKey.id, key: agentKey.privateJwk });
    const error = await rejection(sysadmin.listKeys());
    expect(error.code).toBe('RP_ERR_FORBIDDEN');
    expect(error.message).toContain('needs an admin key');
    const { publicJwk } = await generateKeyPair();
    expect((await rejection(sysadmin.addPublicKey('API007', publicJwk, { rules: ['/'] }, { role: 'admin' }))).code).toBe('RP_ERR_FORBIDDEN');
    expect(fixture.trustStore.get('API007')).toBeUndefined();
  });
});

describe('ProxySysAdmin backends', () => {
  it('listBackends shows a live agent with its rules, targets and state; drainBackend drains it, undrainBackend undoes it', async () => {
    const agentKey = await fixture.addKey('API010', { scope: { rules: ['/api'] } });
    const server = helloServer();
    const web = new ProxyWebServer({ proxyUrl: fixture.url, agentId: agentKey.id, key: agentKey.privateJwk, server, rules: ['/api'], pin: fixture.controlPlane.pin, drainTimeoutMs: 500, closeGraceMs: 100 });
    cleanups.push(() => web.stop());
    await web.start();
    const sysadmin = await started();
    const [backend] = (await sysadmin.listBackends()).filter((item) => item.agentId === 'API010');
    expect(backend).toMatchObject({ agentId: 'API010', state: 'ready', rules: [{ path: '/api', host: undefined }], targets: [{ protocol: 'http', host: '127.0.0.1' }], weight: 1 });
    // An admin drain keeps the backend registered, listed as draining, until undrained.
    const told = nextEvent<[{ drained: boolean; by: string; proxyUrl: string }]>(web, 'admin_drain');
    const drained = await sysadmin.drainBackend('API010');
    expect(drained.backendIds).toEqual([backend!.id]);
    expect((await told)[0]).toMatchObject({ drained: true, backendIds: [backend!.id], proxyUrl: fixture.url });
    expect((await sysadmin.listBackends()).find((item) => item.id === backend!.id)?.state).toBe('draining');
    expect((await sysadmin.undrainBackend('API010')).backendIds).toEqual([backend!.id]);
    expect((await sysadmin.listBackends()).find((item) => item.id === backend!.id)?.state).toBe('ready');
  });

  it('removing a key disconnects its live agent at once', async () => {
    const agentKey = await fixture.addKey('API011', { scope: { rules: ['/gone'] } });
    const web = new ProxyWebServer({ proxyUrl: fixture.url, agentId: agentKey.id, key: agentKey.privateJwk, server: helloServer(), rules: ['/gone'], pin: fixture.controlPlane.pin, reconnect: { initialDelayMs: 5000, maxDelayMs: 5000 } });
    web.on('error', () => undefined);
    cleanups.push(() => web.stop());
    await web.start();
    const sysadmin = await started();
    const disconnected = nextEvent<[{ code: number }]>(web, 'disconnected');
    expect(await sysadmin.removePublicKey('API011')).toEqual({ keyId: 'API011', closedSessions: 1 });
    expect((await disconnected)[0].code).toBe(4003);
    expect(fixture.registry.list().filter((item) => item.agentId === 'API011')).toEqual([]);
  });
});

describe('ProxySysAdmin send()', () => {
  it('sends an admin request by type and action and resolves with the raw answer', async () => {
    const sysadmin = await started();
    const result = (await sysadmin.send('keys', 'list')) as { keys: Array<{ id: string }> };
    expect(result.keys.map((key) => key.id)).toContain('ops');
  });

  it('sends anything else as a custom event and resolves once the proxy acknowledged it', async () => {
    const sysadmin = await started();
    const message = nextEvent<[AgentEvent]>(fixture.controlPlane, 'message');
    await expect(sysadmin.send('maintenance', 'start', { window: '10m' })).resolves.toBeUndefined();
    expect((await message)[0]).toEqual({ agentId: 'ops', name: 'maintenance', data: { action: 'start', payload: { window: '10m' } } });
    expect((await rejection(sysadmin.send('bad name', 'x'))).code).toBe('RP_ERR_INVALID_OPTION');
  });
});

describe('ProxySysAdmin connection failures', () => {
  it('an unknown admin id is refused with RP_ERR_UNAUTHORIZED', async () => {
    const { privateJwk } = await generateKeyPair();
    expect((await rejection(client({ adminId: 'stranger', key: privateJwk }).start())).code).toBe('RP_ERR_UNAUTHORIZED');
  });

  it('a wrong pin is refused with RP_ERR_TLS naming the mismatch', async () => {
    const error = await rejection(client({ pin: Buffer.alloc(32, 7).toString('base64') }).start());
    expect(error.code).toBe('RP_ERR_TLS');
    expect(error.message).toContain('does not match');
  });

  it('an unreachable proxy is RP_ERR_DISCONNECTED, and start() may be retried', async () => {
    const sysadmin = client({ proxyUrl: 'wss://127.0.0.1:1' });
    expect((await rejection(sysadmin.start())).code).toBe('RP_ERR_DISCONNECTED');
    expect(sysadmin.state).toBe('idle');
    expect((await rejection(sysadmin.start())).code).toBe('RP_ERR_DISCONNECTED');
  });

  it('an invalid key file is RP_ERR_INVALID_KEY', async () => {
    const file = path.join(dir, 'broken.key.json');
    await writeFile(file, 'not json', { mode: 0o600 });
    expect((await rejection(client({ key: file }).start())).code).toBe('RP_ERR_INVALID_KEY');
  });

  it('invalid options throw at construction', () => {
    expect(() => new ProxySysAdmin({ proxyUrl: 'http://x', adminId: 'a', key: admin.privateJwk })).toThrow(/proxyUrl/);
    expect(() => new ProxySysAdmin({ proxyUrl: fixture.url, adminId: '../a', key: admin.privateJwk })).toThrow(/invalid id/);
    expect(() => new ProxySysAdmin({ proxyUrl: fixture.url, adminId: 'a', key: admin.privateJwk, pin: 'nope' })).toThrow(/pin/);
    expect(() => new ProxySysAdmin({ proxyUrl: fixture.url, adminId: 'a', key: admin.privateJwk, pin: fixture.controlPlane.pin!, insecure: true })).toThrow(/exclusive/);
    expect(() => new ProxySysAdmin({ proxyUrl: fixture.url, adminId: 'a', key: admin.privateJwk, requestTimeoutMs: 1 })).toThrow(/requestTimeoutMs/);
  });
});

describe('ProxySysAdmin against a scripted proxy', () => {
  let stub: StubProxy | undefined;
  afterEach(async () => {
    await stub?.close();
    stub = undefined;
  });

  function stubClient(proxy: StubProxy, options: Partial<ProxySysAdminOptions> = {}): ProxySysAdmin {
    return client({ proxyUrl: proxy.url, pin: proxy.pin, ...options });
  }

  it('a request without an answer rejects with RP_ERR_TIMEOUT', async () => {
    stub = await startStubProxy(() => undefined);
    const sysadmin = stubClient(stub, { requestTimeoutMs: 50 });
    await sysadmin.start();
    expect((await rejection(sysadmin.listKeys())).code).toBe('RP_ERR_TIMEOUT');
  });

  it('pending requests reject with RP_ERR_DISCONNECTED when the connection drops, and the next call redials', async () => {
    stub = await startStubProxy((frame) => (frame.type === 'keys.list' ? { type: 'ack', id: frame.id, result: { keys: [] } } : undefined));
    const proxy = stub;
    const sysadmin = stubClient(proxy);
    await sysadmin.start();
    const pending = sysadmin.listBackends();
    await proxy.nextFrame();
    const disconnected = nextEvent(sysadmin, 'disconnected');
    proxy.dropAll();
    expect((await rejection(pending)).code).toBe('RP_ERR_DISCONNECTED');
    await disconnected;
    expect(await sysadmin.listKeys()).toEqual([]);
  });

  it('stop() rejects pending requests with RP_ERR_DISCONNECTED', async () => {
    stub = await startStubProxy(() => undefined);
    const proxy = stub;
    const sysadmin = stubClient(proxy);
    await sysadmin.start();
    const pending = sysadmin.listKeys();
    await proxy.nextFrame();
    await sysadmin.stop();
    expect((await rejection(pending)).code).toBe('RP_ERR_DISCONNECTED');
  });

  it('a malformed answer rejects with RP_ERR_INVALID_MESSAGE naming the field', async () => {
    stub = await startStubProxy((frame) => ({ type: 'ack', id: frame.id, result: { keys: [{ id: 'x', role: 'root' }] } }));
    const sysadmin = stubClient(stub);
    await sysadmin.start();
    const error = await rejection(sysadmin.listKeys());
    expect(error.code).toBe('RP_ERR_INVALID_MESSAGE');
    expect(error.message).toContain('keys[0].role');
  });

  it('an error answer keeps the proxy code and message', async () => {
    stub = await startStubProxy((frame) => ({ type: 'error', id: frame.id, code: 'RP_ERR_UNKNOWN_ID', message: 'no key with id "x"' }));
    const sysadmin = stubClient(stub);
    await sysadmin.start();
    expect(await rejection(sysadmin.removePublicKey('x'))).toMatchObject({ code: 'RP_ERR_UNKNOWN_ID', message: 'no key with id "x"' });
  });
});
