/**
 * Liveness and limits: every breach closes only the offending session (4008/4002) and never disturbs
 * another agent; silent peers are evicted within the heartbeat bound; half-open connections before the
 * upgrade are closed by the handshake timeouts; stop() closes everything with 1001.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { TokenVerifier, VerifiedIdentity } from '../../../src/proxy/control-plane/token-verifier.js';
import type { Backend, RemovalReason } from '../../../src/proxy/registry/backend.js';
import { createLogger } from '../../../src/shared/logger.js';
import { type ControlClient, withTimeout } from '../../helpers/control-plane-client.js';
import { nextEvent, registerFrame, startControlPlane, type ControlPlaneFixture, type FixtureOptions, type TestKey } from '../../helpers/control-plane-fixture.js';

describe('control plane limits and liveness', () => {
  let fixture: ControlPlaneFixture | undefined;

  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  async function setUp(options: FixtureOptions): Promise<{ fx: ControlPlaneFixture; bystander: ControlClient; bystanderBackend: string; offender: TestKey }> {
    const fx = await startControlPlane(options);
    fixture = fx;
    const good = await fx.addKey('GOOD', { scope: { rules: ['/good'] } });
    const offender = await fx.addKey('BAD', { scope: { rules: ['/bad'] } });
    const bystander = await fx.connect(good);
    const bystanderBackend = ((await bystander.request(registerFrame(['/good']))).result as { backendId: string }).backendId;
    return { fx, bystander, bystanderBackend, offender };
  }

  async function expectBystanderUnharmed(fx: ControlPlaneFixture, bystander: ControlClient, backendId: string): Promise<void> {
    expect(fx.registry.get(backendId)?.state).toBe('ready');
    expect(await bystander.request({ type: 'drain' })).toMatchObject({ type: 'ack', result: { backendId } });
  }

  it('evicts an agent that stops answering pings (reason timeout) within the heartbeat bound', async () => {
    const fx = await startControlPlane({ heartbeatIntervalMs: 50, missedPongs: 2 });
    fixture = fx;
    const key = await fx.addKey('FROZEN', { scope: { rules: ['/f'] } });
    const frozen = await fx.connect(key, { autoPong: false });
    // The bound is counted in heartbeats, not wall time (a loaded machine stretches every interval):
    // the session is evicted at the tick after `missedPongs` unanswered pings, so no more than that many
    // arrive (one may come before the listener is attached, in the chunk that completed the upgrade).
    let pings = 0;
    frozen.ws.on('ping', () => (pings += 1));
    const backendId = ((await frozen.request(registerFrame(['/f']))).result as { backendId: string }).backendId;
    const [backend, reason] = await nextEvent<[Backend, RemovalReason]>(fx.controlPlane, 'backend_removed', 10_000);
    expect([backend.id, reason]).toEqual([backendId, 'timeout']);
    expect(pings).toBeGreaterThanOrEqual(1);
    expect(pings).toBeLessThanOrEqual(2);
    expect(await frozen.closeCode()).toBe(1006);
    expect(fx.controlPlane.stats()).toMatchObject({ evictions: 1, backendsRemoved: { timeout: 1 } });
  });

  it('evicts an agent whose socket stopped reading (paused, like SIGSTOP), while a live agent stays', async () => {
    const { fx, bystander, bystanderBackend, offender } = await setUp({ heartbeatIntervalMs: 50, missedPongs: 2 });
    const stalled = await fx.connect(offender);
    const backendId = ((await stalled.request(registerFrame(['/bad']))).result as { backendId: string }).backendId;
    (stalled.ws as unknown as { _socket: Socket })._socket.pause();
    // A generous guard: the heartbeat evicts it after three 50 ms ticks, however slow the machine.
    const [backend, reason] = await nextEvent<[Backend, RemovalReason]>(fx.controlPlane, 'backend_removed', 10_000);
    expect([backend.id, reason]).toEqual([backendId, 'timeout']);
    await expectBystanderUnharmed(fx, bystander, bystanderBackend);
    // A paused client never reads the server's close; release it so clean-up is quick.
    stalled.ws.terminate();
  });

  it('closes an agent that does not register before the deadline with 4008', async () => {
    const fx = await startControlPlane({ limits: { registerTimeoutMs: 100 } });
    fixture = fx;
    const key = await fx.addKey('SLOW', { scope: { rules: ['/s'] } });
    const slow = await fx.connect(key);
    expect(await slow.closeCode()).toBe(4008);
    expect(fx.controlPlane.stats().limitBreaches).toEqual({ register_deadline: 1 });
    expect(fx.registry.listByAgent('SLOW')).toEqual([]);
  });

  it('closes a session that floods frames with 4008, and only that session', async () => {
    const { fx, bystander, bystanderBackend, offender } = await setUp({ limits: { messagesPerSecond: 5, burst: 10 } });
    const flooder = await fx.connect(offender);
    for (let index = 0; index < 50; index += 1) flooder.sendRaw({ type: 'event', name: 'spam', data: index });
    expect(await flooder.closeCode()).toBe(4008);
    expect(fx.controlPlane.stats().limitBreaches).toEqual({ rate: 1 });
    await expectBystanderUnharmed(fx, bystander, bystanderBackend);
  });

  it('closes a session that sends an oversized frame with 4008, and only that session', async () => {
    const { fx, bystander, bystanderBackend, offender } = await setUp({ limits: { maxFrameBytes: 1024 } });
    const big = await fx.connect(offender);
    const backendId = ((await big.request(registerFrame(['/bad']))).result as { backendId: string }).backendId;
    const removed = nextEvent<[Backend, RemovalReason]>(fx.controlPlane, 'backend_removed');
    big.sendRaw({ type: 'event', name: 'big', data: 'x'.repeat(4096) });
    expect(await big.closeCode()).toBe(4008);
    expect((await removed)[0].id).toBe(backendId);
    expect(fx.controlPlane.stats().limitBreaches).toEqual({ frame_size: 1 });
    await expectBystanderUnharmed(fx, bystander, bystanderBackend);
  });

  it('answers invalid frames with RP_ERR_INVALID_MESSAGE, then closes with 4002 after too many', async () => {
    const { fx, bystander, bystanderBackend, offender } = await setUp({ limits: { maxInvalidFrames: 3 } });
    const garbage = await fx.connect(offender);
    for (const frame of ['not json', '[1,2]', JSON.stringify({ type: 'nope', id: 'g3' })]) garbage.sendRaw(frame);
    await garbage.waitFor((frame) => frame.id === 'g3');
    expect(garbage.frames).toEqual([
      expect.objectContaining({ type: 'error', code: 'RP_ERR_INVALID_MESSAGE' }),
      expect.objectContaining({ type: 'error', code: 'RP_ERR_INVALID_MESSAGE' }),
      expect.objectContaining({ type: 'error', id: 'g3', code: 'RP_ERR_INVALID_MESSAGE' }),
    ]);
    garbage.sendRaw(Buffer.from([1, 2, 3]));
    expect(await garbage.closeCode()).toBe(4002);
    expect(fx.controlPlane.stats().limitBreaches).toEqual({ invalid_frames: 1 });
    await expectBystanderUnharmed(fx, bystander, bystanderBackend);
  });

  it('refuses a session beyond maxSessionsPerKey with 429', async () => {
    const fx = await startControlPlane({ limits: { maxSessionsPerKey: 2 } });
    fixture = fx;
    const key = await fx.addKey('MANY', { scope: { rules: ['/m'] } });
    await fx.connect(key);
    await fx.connect(key);
    expect(await fx.tryConnect({ token: await fx.token(key) })).toMatchObject({ ok: false, status: 429 });
    expect(fx.controlPlane.stats()).toMatchObject({ upgradesAccepted: 2, upgradesRefused: { sessions_per_key: 1 }, sessions: 2 });
  });

  it('refuses with 403 a verified key whose role may not connect (allowedRoles)', async () => {
    const fx = await startControlPlane({ allowedRoles: ['agent'] });
    fixture = fx;
    const admin = await fx.addKey('REMOTE-ADMIN', { role: 'admin' });
    const rejected = nextEvent<[{ agentId: string; code: string }]>(fx.controlPlane, 'backend_rejected');
    expect(await fx.tryConnect({ token: await fx.token(admin) })).toMatchObject({ ok: false, status: 403 });
    expect((await rejected)[0]).toMatchObject({ agentId: 'REMOTE-ADMIN', code: 'RP_ERR_FORBIDDEN' });
    expect(fx.controlPlane.stats().upgradesRefused).toEqual({ forbidden: 1 });
  });

  it('refuses upgrades beyond maxPendingHandshakes with 429 while others are being verified', async () => {
    let release: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered: () => void = () => undefined;
    const verifying = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const verifier = {
      async verify(): Promise<VerifiedIdentity> {
        entered();
        await gate;
        return { id: 'PENDING', role: 'agent', scope: {}, fingerprint: 'unused' };
      },
    } as unknown as TokenVerifier;
    const fx = await startControlPlane({ verifier, limits: { maxPendingHandshakes: 1 } });
    fixture = fx;
    const first = fx.tryConnect({ token: 'a.b.c' });
    await withTimeout(verifying, 5000, 'verification to start');
    expect(fx.controlPlane.pendingHandshakes).toBe(1);
    expect(await fx.tryConnect({ token: 'a.b.c' })).toMatchObject({ ok: false, status: 429 });
    release!();
    // The key PENDING is not in the trust store, so the first upgrade ends in 401 after verification.
    expect(await first).toMatchObject({ ok: false, status: 401 });
  });

  it('closes a TCP connection that never starts the TLS handshake', async () => {
    const fx = await startControlPlane({ limits: { handshakeTimeoutMs: 150 } });
    fixture = fx;
    const { port } = fx.controlPlane.address;
    const socket = netConnect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await withTimeout(new Promise((resolve) => socket.once('close', resolve)), 5000, 'silent TCP socket to be closed');
  });

  it('closes a TLS connection that never sends the upgrade request', async () => {
    const fx = await startControlPlane({ limits: { handshakeTimeoutMs: 150 } });
    fixture = fx;
    const { port } = fx.controlPlane.address;
    const socket = tlsConnect({ port, host: '127.0.0.1', ca: fx.cert.cert, servername: 'localhost' });
    socket.on('error', () => undefined);
    // Read whatever the server answers (a 400) so that its end of stream, and then close, is seen.
    socket.resume();
    await withTimeout(new Promise((resolve) => socket.once('secureConnect', resolve)), 5000, 'TLS handshake');
    await withTimeout(new Promise((resolve) => socket.once('close', resolve)), 5000, 'silent TLS socket to be closed');
  });

  it('stop() closes every session with 1001, removes backends as stopped, and is idempotent', async () => {
    const fx = await startControlPlane();
    fixture = fx;
    const key = await fx.addKey('STAYING', { scope: { rules: ['/st'] } });
    const agent = await fx.connect(key);
    await agent.request(registerFrame(['/st']));
    const removed = nextEvent<[Backend, RemovalReason]>(fx.controlPlane, 'backend_removed');
    const stopping = fx.controlPlane.stop();
    expect(fx.controlPlane.stop()).toBe(stopping);
    await stopping;
    expect((await removed)[1]).toBe('stopped');
    expect(await agent.closeCode()).toBe(1001);
    expect(fx.registry.size).toBe(0);
    expect(fx.controlPlane.state).toBe('STOPPED');
    await expect(fx.controlPlane.start()).rejects.toMatchObject({ code: 'RP_ERR_NOT_RUNNING' });
  });

  it('never logs a token', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    });
    const fx = await startControlPlane({ logger: createLogger({ level: 'trace', destination }) });
    fixture = fx;
    const key = await fx.addKey('LOGGED', { scope: { rules: ['/l'] } });
    const token = await fx.token(key);
    const outcome = await fx.tryConnect({ token });
    expect(outcome.ok).toBe(true);
    expect(await fx.tryConnect({ token })).toMatchObject({ ok: false, status: 401 });
    expect(lines.length).toBeGreaterThan(0);
    const signature = token.split('.')[2]!;
    expect(lines.join('\n')).not.toContain(signature);
  });
});
