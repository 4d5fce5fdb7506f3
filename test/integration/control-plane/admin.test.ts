/**
 * Admin sessions: key management over the control plane, and revocation taking effect on live sessions
 * at once (regression for the original, where removing a key did not disconnect the agent).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TrustStore } from '../../../src/shared/trust/trust-store.js';
import type { Backend, RemovalReason } from '../../../src/proxy/registry/backend.js';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { nextEvent, registerFrame, startControlPlane, type ControlPlaneFixture, type TestKey } from '../../helpers/control-plane-fixture.js';

describe('control plane admin messages', () => {
  let fixture: ControlPlaneFixture;
  let admin: TestKey;

  beforeAll(async () => {
    fixture = await startControlPlane();
    admin = await fixture.addKey('ADMIN', { role: 'admin' });
  });

  afterAll(async () => {
    await fixture.close();
  });

  it('keys.add trusts a new agent key, which can then connect and register', async () => {
    const adminClient = await fixture.connect(admin);
    const { privateJwk, publicJwk } = await generateKeyPair('NEWCOMER');
    const before = await fixture.tryConnect({ token: await fixture.token({ id: 'NEWCOMER', privateJwk }) });
    expect(before).toMatchObject({ ok: false, status: 401 });
    const reply = await adminClient.request({ type: 'keys.add', keyId: 'NEWCOMER', publicKey: publicJwk, scope: { rules: ['/new'], hosts: ['127.0.0.1'] } });
    expect(reply).toMatchObject({ type: 'ack', result: { id: 'NEWCOMER', role: 'agent', fingerprint: fixture.trustStore.get('NEWCOMER')!.fingerprint } });
    const agent = await fixture.connect({ id: 'NEWCOMER', privateJwk });
    expect(await agent.request(registerFrame(['/new']))).toMatchObject({ type: 'ack' });
    await agent.close();
    await adminClient.close();
  });

  it('keys.add refuses a private JWK, an invalid id and a duplicate id, with their codes', async () => {
    const adminClient = await fixture.connect(admin);
    const { privateJwk, publicJwk } = await generateKeyPair('X');
    expect(await adminClient.request({ type: 'keys.add', keyId: 'LEAKY', publicKey: privateJwk })).toMatchObject({ type: 'error', code: 'RP_ERR_INVALID_KEY' });
    expect(await adminClient.request({ type: 'keys.add', keyId: '../etc', publicKey: publicJwk })).toMatchObject({ type: 'error', code: 'RP_ERR_INVALID_ID' });
    expect(await adminClient.request({ type: 'keys.add', keyId: 'ADMIN', publicKey: publicJwk })).toMatchObject({ type: 'error', code: 'RP_ERR_ALREADY_EXISTS' });
    expect(fixture.trustStore.get('LEAKY')).toBeUndefined();
    await adminClient.close();
  });

  it('keys.list returns ids, roles, scopes, fingerprints and public keys only', async () => {
    const adminClient = await fixture.connect(admin);
    const reply = await adminClient.request({ type: 'keys.list' });
    const keys = (reply.result as { keys: Array<Record<string, unknown>> }).keys;
    const entry = keys.find((key) => key.id === 'ADMIN')!;
    expect(entry).toMatchObject({ role: 'admin', fingerprint: expect.any(String), publicKey: { kty: 'OKP', crv: 'Ed25519' } });
    expect(JSON.stringify(keys)).not.toContain('"d"');
    await adminClient.close();
  });

  it('fix-original-live-agent-survives-removal: keys.remove closes the live session with 4003 and removes its backend', async () => {
    const victim = await fixture.addKey('VICTIM', { scope: { rules: ['/v'] } });
    const agent = await fixture.connect(victim);
    const backendId = ((await agent.request(registerFrame(['/v']))).result as { backendId: string }).backendId;
    const adminClient = await fixture.connect(admin);
    const removed = nextEvent<[Backend, RemovalReason]>(fixture.controlPlane, 'backend_removed');
    const reply = await adminClient.request({ type: 'keys.remove', keyId: 'VICTIM' });
    expect(reply).toMatchObject({ type: 'ack', result: { keyId: 'VICTIM', closedSessions: 1 } });
    expect(await agent.closeCode()).toBe(4003);
    const [backend, reason] = await removed;
    expect([backend.id, reason]).toEqual([backendId, 'revoked']);
    expect(fixture.registry.get(backendId)).toBeUndefined();
    expect(await fixture.tryConnect({ token: await fixture.token(victim) })).toMatchObject({ ok: false, status: 401 });
    await adminClient.close();
  });

  it('closes a live session with 4003 when the key is removed from the trust store by any path: keys.remove (above), the TrustStore API, another process editing the watched file', async () => {
    const key = await fixture.addKey('DIRECT', { scope: { rules: ['/d'] } });
    const agent = await fixture.connect(key);
    await agent.request(registerFrame(['/d']));
    await fixture.trustStore.remove('DIRECT');
    expect(await agent.closeCode()).toBe(4003);
    // A file-backed store watched for edits: `inteli-sysadmin` working offline removes the key.
    const dir = await mkdtemp(path.join(tmpdir(), 'inteli-admin-store-'));
    const store = await TrustStore.open(dir);
    store.watch({ debounceMs: 10 });
    const filed = await startControlPlane({ trustStore: store });
    try {
      const fileKey = await filed.addKey('FILED', { scope: { rules: ['/f'] } });
      const fileAgent = await filed.connect(fileKey);
      expect(await fileAgent.request(registerFrame(['/f']))).toMatchObject({ type: 'ack' });
      await (await TrustStore.open(dir)).remove('FILED');
      expect(await fileAgent.closeCode(10_000)).toBe(4003);
      expect(filed.registry.listByAgent('FILED')).toEqual([]);
    } finally {
      store.unwatch();
      await filed.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keys.remove of an unknown id answers RP_ERR_UNKNOWN_ID; of its own key RP_ERR_FORBIDDEN', async () => {
    const adminClient = await fixture.connect(admin);
    expect(await adminClient.request({ type: 'keys.remove', keyId: 'NOBODY' })).toMatchObject({ type: 'error', code: 'RP_ERR_UNKNOWN_ID' });
    expect(await adminClient.request({ type: 'keys.remove', keyId: 'ADMIN' })).toMatchObject({ type: 'error', code: 'RP_ERR_FORBIDDEN' });
    expect(fixture.trustStore.get('ADMIN')).toBeDefined();
    await adminClient.close();
  });

  it('backends.list returns the registered backends as plain data', async () => {
    const key = await fixture.addKey('LISTED', { scope: { rules: ['/listed'] } });
    const agent = await fixture.connect(key);
    const backendId = ((await agent.request({ ...registerFrame(['/listed'], 4100), weight: 5, meta: { version: '1.2.3' } })).result as { backendId: string }).backendId;
    const adminClient = await fixture.connect(admin);
    const reply = await adminClient.request({ type: 'backends.list' });
    const backends = (reply.result as { backends: Array<Record<string, unknown>> }).backends;
    expect(backends.find((backend) => backend.id === backendId)).toEqual({
      id: backendId,
      agentId: 'LISTED',
      fingerprint: fixture.trustStore.get('LISTED')!.fingerprint,
      targets: [{ protocol: 'http', host: '127.0.0.1', port: 4100 }],
      rules: [{ path: '/listed' }],
      weight: 5,
      state: 'ready',
      meta: { version: '1.2.3' },
      registeredAt: expect.any(Number),
    });
    await agent.close();
    await adminClient.close();
  });

  it('backends.drain drains every backend of an agent (kept, listed draining, the agent told); backends.undrain routes it again', async () => {
    const key = await fixture.addKey('DRAINME', { scope: { rules: ['/drain'] } });
    const agent = await fixture.connect(key);
    const backendId = ((await agent.request(registerFrame(['/drain']))).result as { backendId: string }).backendId;
    const adminClient = await fixture.connect(admin);
    expect(await adminClient.request({ type: 'backends.drain', agentId: 'DRAINME' })).toMatchObject({ type: 'ack', result: { backendIds: [backendId] } });
    expect(await agent.waitFor((frame) => frame.type === 'event')).toEqual({ type: 'event', name: 'inteli:drained-by-admin', data: { by: 'ADMIN', backendIds: [backendId] } });
    expect(fixture.registry.get(backendId)?.state).toBe('draining');
    // Idempotent: a second drain answers the same ids.
    expect(await adminClient.request({ type: 'backends.drain', agentId: 'DRAINME' })).toMatchObject({ type: 'ack', result: { backendIds: [backendId] } });
    expect(await adminClient.request({ type: 'backends.undrain', agentId: 'DRAINME' })).toMatchObject({ type: 'ack', result: { backendIds: [backendId] } });
    expect(await agent.waitFor((frame) => frame.type === 'event' && frame.name === 'inteli:undrained-by-admin')).toMatchObject({ data: { by: 'ADMIN', backendIds: [backendId] } });
    expect(fixture.registry.get(backendId)?.state).toBe('ready');
    expect(await adminClient.request({ type: 'backends.drain', agentId: 'NOBODY' })).toMatchObject({ type: 'error', code: 'RP_ERR_UNKNOWN_ID' });
    expect(await adminClient.request({ type: 'backends.undrain', agentId: 'NOBODY' })).toMatchObject({ type: 'error', code: 'RP_ERR_UNKNOWN_ID' });
    await agent.close();
    await adminClient.close();
  });

  it('an agent drained by an admin registers again as draining until undrained', async () => {
    const key = await fixture.addKey('STAYDRAINED', { scope: { rules: ['/sd'] } });
    const first = await fixture.connect(key);
    const firstId = ((await first.request(registerFrame(['/sd']))).result as { backendId: string }).backendId;
    expect(fixture.controlPlane.drainAgent('STAYDRAINED')).toEqual([firstId]);
    const removed = nextEvent<[Backend, RemovalReason]>(fixture.controlPlane, 'backend_removed');
    await first.close();
    await removed;
    const second = await fixture.connect(key);
    const secondId = ((await second.request(registerFrame(['/sd']))).result as { backendId: string }).backendId;
    expect(fixture.registry.get(secondId)?.state).toBe('draining');
    expect(fixture.controlPlane.undrainAgent('STAYDRAINED')).toEqual([secondId]);
    expect(fixture.registry.get(secondId)?.state).toBe('ready');
    await second.close();
  });

  it('ControlPlane.drainAgent drains programmatically like backends.drain', async () => {
    const key = await fixture.addKey('PROGDRAIN', { scope: { rules: ['/pd'] } });
    const agent = await fixture.connect(key);
    const backendId = ((await agent.request(registerFrame(['/pd']))).result as { backendId: string }).backendId;
    expect(fixture.controlPlane.drainAgent('PROGDRAIN')).toEqual([backendId]);
    await agent.waitFor((frame) => frame.type === 'event' && frame.name === 'inteli:drained-by-admin');
    expect(fixture.registry.get(backendId)?.state).toBe('draining');
    expect(fixture.controlPlane.drainAgent('NOBODY')).toEqual([]);
    await agent.close();
  });

  it('health frames mark the backend unhealthy and ready again; an admin drain wins over health', async () => {
    const key = await fixture.addKey('HEALTHY', { scope: { rules: ['/h'] } });
    const agent = await fixture.connect(key);
    const backendId = ((await agent.request(registerFrame(['/h']))).result as { backendId: string }).backendId;
    expect(await agent.request({ type: 'health', healthy: false, reason: 'connect refused' })).toMatchObject({ type: 'ack', result: { state: 'unhealthy' } });
    expect(fixture.registry.get(backendId)?.state).toBe('unhealthy');
    expect(fixture.controlPlane.drainAgent('HEALTHY')).toEqual([backendId]);
    expect(await agent.request({ type: 'health', healthy: true })).toMatchObject({ type: 'ack', result: { state: 'draining' } });
    fixture.controlPlane.undrainAgent('HEALTHY');
    expect(fixture.registry.get(backendId)?.state).toBe('ready');
    expect(await agent.request({ type: 'health', healthy: 'no' })).toMatchObject({ type: 'error', code: 'RP_ERR_INVALID_MESSAGE' });
    await agent.close();
  });

  it('lets an admin session stay open without registering', async () => {
    const adminClient = await fixture.connect(admin);
    expect(fixture.controlPlane.sessions().some((session) => session.agentId === 'ADMIN' && session.role === 'admin')).toBe(true);
    expect(await adminClient.request({ type: 'keys.list' })).toMatchObject({ type: 'ack' });
    await adminClient.close();
  });
});
