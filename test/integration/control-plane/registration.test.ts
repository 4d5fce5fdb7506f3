/**
 * Registration over a real control plane: scope enforcement (regression for the original's "any agent
 * may register any rule and any target"), gatekeepers, replacement and supersession, drain, custom
 * events, and admin-only messages refused from agent keys.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { BackendRejection } from '../../../src/proxy/control-plane/control-plane.js';
import type { Registration } from '../../../src/proxy/control-plane/registration.js';
import type { Backend, RemovalReason } from '../../../src/proxy/registry/backend.js';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { nextEvent, registerFrame, startControlPlane, type ControlPlaneFixture, type TestKey } from '../../helpers/control-plane-fixture.js';

describe('control plane registration', () => {
  let fixture: ControlPlaneFixture;
  let agent: TestKey;
  let counter = 0;
  // Each test uses its own key so that a previous test's session, still closing on the server side,
  // cannot change what this test observes in the registry.
  const freshAgent = (): Promise<TestKey> => {
    counter += 1;
    return fixture.addKey(`WEB${String(counter).padStart(3, '0')}`, { scope: { rules: ['/api', 'shop.example.com/cart'] } });
  };
  let idleGate: { backendId: string; release: () => void } | undefined;
  let idleRequested: ((backendId: string) => void) | undefined;

  beforeAll(async () => {
    fixture = await startControlPlane({
      whenIdle: (backendId) =>
        new Promise<void>((resolve) => {
          idleGate = { backendId, release: resolve };
          idleRequested?.(backendId);
        }),
      gatekeepers: [
        async (_identity, registration: Registration) => {
          if (registration.meta.tier === 'forbidden') throw new Error('tier "forbidden" is not admitted');
        },
      ],
    });
  });

  beforeEach(async () => {
    agent = await freshAgent();
  });

  afterAll(async () => {
    await fixture.close();
  });

  it('fix-original-any-rule: refuses a rule outside the key scope with RP_ERR_OUT_OF_SCOPE and changes nothing', async () => {
    const client = await fixture.connect(agent);
    const rejected = nextEvent<[BackendRejection]>(fixture.controlPlane, 'backend_rejected');
    for (const rules of [['/'], ['/apix'], ['/admin'], ['/api', '/other'], [{ path: '/cart', host: 'evil.example.com' }], [{ path: '/cart' }]]) {
      const reply = await client.request(registerFrame(rules));
      expect(reply).toMatchObject({ type: 'error', code: 'RP_ERR_OUT_OF_SCOPE' });
    }
    expect((await rejected)[0]).toMatchObject({ agentId: agent.id, code: 'RP_ERR_OUT_OF_SCOPE' });
    expect(fixture.registry.listByAgent(agent.id)).toEqual([]);
    await client.close();
  });

  it('fix-original-ssrf: refuses a target outside the key scope with RP_ERR_OUT_OF_SCOPE and changes nothing', async () => {
    const client = await fixture.connect(agent);
    for (const host of ['10.0.0.5', '169.254.169.254', 'internal.example.com', '::ffff:10.0.0.1', '192.168.1.1']) {
      const reply = await client.request(registerFrame(['/api'], 4000, host));
      expect(reply).toMatchObject({ type: 'error', code: 'RP_ERR_OUT_OF_SCOPE' });
    }
    expect(fixture.registry.listByAgent(agent.id)).toEqual([]);
    await client.close();
  });

  it('accepts rules inside the scope, on a segment boundary and for the scoped host', async () => {
    const client = await fixture.connect(agent);
    const reply = await client.request(registerFrame(['/api', '/api/v2/', { path: '/cart/items', host: 'Shop.Example.com' }], 4000, 'localhost'));
    expect(reply.type).toBe('ack');
    const backend = fixture.registry.get((reply.result as { backendId: string }).backendId)!;
    expect(backend.rules).toEqual([{ path: '/api' }, { path: '/api/v2' }, { path: '/cart/items', host: 'shop.example.com' }]);
    await client.close();
  });

  it('answers an invalid register frame with RP_ERR_INVALID_MESSAGE', async () => {
    const client = await fixture.connect(agent);
    expect(await client.request({ type: 'register', targets: [], rules: ['/api'] })).toMatchObject({ type: 'error', code: 'RP_ERR_INVALID_MESSAGE' });
    expect(await client.request({ type: 'register', targets: [{ host: '127.0.0.1', port: 70000 }], rules: ['/api'] })).toMatchObject({
      type: 'error',
      code: 'RP_ERR_INVALID_MESSAGE',
    });
    expect(await client.request(registerFrame(['api']))).toMatchObject({ type: 'error', code: 'RP_ERR_INVALID_MESSAGE' });
    expect(await client.request(registerFrame(['/api/../admin']))).toMatchObject({ type: 'error', code: 'RP_ERR_INVALID_MESSAGE' });
    expect(fixture.registry.listByAgent(agent.id)).toEqual([]);
    await client.close();
  });

  it('fix-original-admin-from-agent: refuses keys.* and backends.* from an agent key with RP_ERR_FORBIDDEN and stays open', async () => {
    const client = await fixture.connect(agent);
    const { publicJwk } = await generateKeyPair(agent.id);
    const reply = await client.request({ type: 'keys.add', keyId: agent.id, publicKey: publicJwk, role: 'admin' });
    expect(reply).toMatchObject({ type: 'error', code: 'RP_ERR_FORBIDDEN' });
    expect(fixture.trustStore.get(agent.id)?.role).toBe('agent');
    for (const frame of [{ type: 'keys.remove', keyId: agent.id }, { type: 'keys.list' }, { type: 'backends.list' }, { type: 'backends.drain', agentId: agent.id }]) {
      expect(await client.request(frame)).toMatchObject({ type: 'error', code: 'RP_ERR_FORBIDDEN' });
    }
    expect(await client.request(registerFrame(['/api']))).toMatchObject({ type: 'ack' });
    await client.close();
  });

  it('refuses a registration a gatekeeper rejects with RP_ERR_REJECTED and emits backend_rejected', async () => {
    const client = await fixture.connect(agent);
    const rejected = nextEvent<[BackendRejection]>(fixture.controlPlane, 'backend_rejected');
    const reply = await client.request({ ...registerFrame(['/api']), meta: { tier: 'forbidden' } });
    expect(reply).toMatchObject({ type: 'error', code: 'RP_ERR_REJECTED' });
    expect(reply.message).toContain('tier "forbidden" is not admitted');
    expect((await rejected)[0]).toMatchObject({ agentId: agent.id, code: 'RP_ERR_REJECTED', reason: expect.stringContaining('forbidden') });
    expect(fixture.registry.listByAgent(agent.id)).toEqual([]);
    await client.close();
  });

  it('replaces the backend of a session that registers again (old one removed as superseded)', async () => {
    const client = await fixture.connect(agent);
    const first = (await client.request(registerFrame(['/api/a']))).result as { backendId: string };
    const removed = nextEvent<[Backend, RemovalReason]>(fixture.controlPlane, 'backend_removed');
    const second = (await client.request(registerFrame(['/api/b']))).result as { backendId: string };
    const [backend, reason] = await removed;
    expect([backend.id, reason]).toEqual([first.backendId, 'superseded']);
    expect(fixture.registry.listByAgent(agent.id).map((entry) => entry.id)).toEqual([second.backendId]);
    await client.close();
  });

  it('supersedes a half-open session of the same agent and targets with 4009', async () => {
    const old = await fixture.connect(agent, { autoPong: false });
    const oldId = ((await old.request(registerFrame(['/api']))).result as { backendId: string }).backendId;
    const fresh = await fixture.connect(agent);
    const removed = nextEvent<[Backend, RemovalReason]>(fixture.controlPlane, 'backend_removed');
    const freshId = ((await fresh.request(registerFrame(['/api']))).result as { backendId: string }).backendId;
    expect(await old.closeCode()).toBe(4009);
    const [backend, reason] = await removed;
    expect([backend.id, reason]).toEqual([oldId, 'superseded']);
    expect(fixture.registry.listByAgent(agent.id).map((entry) => entry.id)).toEqual([freshId]);
    await fresh.close();
  });

  it('drains: marks the backend draining, acks, sends drained once whenIdle resolves, then removes it', async () => {
    const client = await fixture.connect(agent);
    const backendId = ((await client.request(registerFrame(['/api']))).result as { backendId: string }).backendId;
    const idle = new Promise<string>((resolve) => {
      idleRequested = resolve;
    });
    const ack = await client.request({ type: 'drain' });
    expect(ack).toMatchObject({ type: 'ack', result: { backendId } });
    expect(await idle).toBe(backendId);
    expect(fixture.registry.get(backendId)?.state).toBe('draining');
    expect(client.frames.some((frame) => frame.type === 'drained')).toBe(false);
    const removed = nextEvent<[Backend, RemovalReason]>(fixture.controlPlane, 'backend_removed');
    idleGate!.release();
    await client.waitFor((frame) => frame.type === 'drained');
    const [backend, reason] = await removed;
    expect([backend.id, reason]).toEqual([backendId, 'drained']);
    expect(fixture.registry.get(backendId)).toBeUndefined();
    expect(client.frames.map((frame) => frame.type)).toEqual(['ack', 'ack', 'drained']);
    idleRequested = undefined;
    await client.close();
  });

  it('refuses drain before register with RP_ERR_INVALID_MESSAGE', async () => {
    const client = await fixture.connect(agent);
    expect(await client.request({ type: 'drain' })).toMatchObject({ type: 'error', code: 'RP_ERR_INVALID_MESSAGE' });
    await client.close();
  });

  it('delivers a custom event as a message event with the authenticated agent id', async () => {
    const client = await fixture.connect(agent);
    const message = nextEvent<[{ agentId: string; name: string; data: unknown }]>(fixture.controlPlane, 'message');
    client.sendRaw({ type: 'event', name: 'cache.flushed', data: { keys: 3 }, agentId: 'SPOOFED' });
    expect((await message)[0]).toEqual({ agentId: agent.id, name: 'cache.flushed', data: { keys: 3 } });
    await client.close();
  });

  it('sends a proxy-side custom event to the live sessions of an agent', async () => {
    const client = await fixture.connect(agent);
    expect(fixture.controlPlane.sendEvent(agent.id, 'config.reload', { v: 2 })).toBe(1);
    expect(await client.waitFor((frame) => frame.type === 'event')).toEqual({ type: 'event', name: 'config.reload', data: { v: 2 } });
    expect(() => fixture.controlPlane.sendEvent(agent.id, 'bad name')).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION' }));
    await client.close();
  });
});
