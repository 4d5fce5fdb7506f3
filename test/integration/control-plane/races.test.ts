/**
 * Races between authentication, registration and revocation: a key removed while its token is being
 * verified, or while a gatekeeper examines its registration, never ends with a live session or a
 * registered backend; a session that goes away during registration leaves nothing behind.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { TokenVerifier, type VerifiedIdentity } from '../../../src/proxy/control-plane/token-verifier.js';
import { TrustStore } from '../../../src/shared/trust/index.js';
import { withTimeout } from '../../helpers/control-plane-client.js';
import { nextEvent, registerFrame, startControlPlane, type ControlPlaneFixture } from '../../helpers/control-plane-fixture.js';

/** A latch: `wait()` resolves once `open()` was called; `reached` resolves when someone waits. */
function latch(): { wait: () => Promise<void>; open: () => void; reached: Promise<void> } {
  let open: () => void = () => undefined;
  let reach: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const reached = new Promise<void>((resolve) => {
    reach = resolve;
  });
  return {
    wait: () => {
      reach();
      return opened;
    },
    open: () => open(),
    reached: withTimeout(reached, 5000, 'the latch to be reached'),
  };
}

/** A real verifier whose answer is held at `gate` once the token checked out (the race window). */
function heldVerifier(trustStore: TrustStore, gate: ReturnType<typeof latch>): TokenVerifier {
  // The control plane is given the same explicit audience, which the fixture's tokens then carry.
  const real = new TokenVerifier({ trustStore, audience: 'inteli-proxy' });
  return {
    async verify(token: string): Promise<VerifiedIdentity> {
      const identity = await real.verify(token);
      await gate.wait();
      return identity;
    },
  } as unknown as TokenVerifier;
}

describe('control plane races', () => {
  let fixture: ControlPlaneFixture | undefined;

  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('refuses with 401 an upgrade whose key is removed while its token is being verified', async () => {
    const trustStore = TrustStore.inMemory();
    const gate = latch();
    const verifier = heldVerifier(trustStore, gate);
    fixture = await startControlPlane({ trustStore, verifier, audience: 'inteli-proxy' });
    const key = await fixture.addKey('RACER', { scope: { rules: ['/r'] } });
    const outcome = fixture.tryConnect({ token: await fixture.token(key) });
    await gate.reached;
    await trustStore.remove('RACER');
    gate.open();
    expect(await outcome).toMatchObject({ ok: false, status: 401 });
    expect(fixture.controlPlane.sessionCount).toBe(0);
  });

  it('registers nothing when the key is removed while a gatekeeper runs; the session is closed with 4003', async () => {
    const gate = latch();
    fixture = await startControlPlane({ gatekeepers: [() => gate.wait()] });
    const key = await fixture.addKey('GATED', { scope: { rules: ['/g'] } });
    const client = await fixture.connect(key);
    client.sendRaw({ ...registerFrame(['/g']), id: 'reg' });
    await gate.reached;
    await fixture.trustStore.remove('GATED');
    gate.open();
    expect(await client.closeCode()).toBe(4003);
    expect(fixture.registry.listByAgent('GATED')).toEqual([]);
    expect(client.frames.some((frame) => frame.type === 'ack')).toBe(false);
  });

  it('registers nothing when the agent disconnects while a gatekeeper runs', async () => {
    const gate = latch();
    fixture = await startControlPlane({ gatekeepers: [() => gate.wait()] });
    const key = await fixture.addKey('LEAVER', { scope: { rules: ['/l'] } });
    const witness = await fixture.addKey('WITNESS', { scope: { rules: ['/w'] } });
    const client = await fixture.connect(key);
    client.sendRaw({ ...registerFrame(['/l']), id: 'reg' });
    await gate.reached;
    const closed = nextEvent(fixture.controlPlane, 'session_closed');
    await client.close();
    await closed;
    gate.open();
    // The held registration resumes as soon as the gate opens; a later registration through the same
    // (now open) gate is acknowledged only after it, so its ack marks the point where it has finished.
    const other = await fixture.connect(witness);
    expect(await other.request(registerFrame(['/w']))).toMatchObject({ type: 'ack' });
    expect(fixture.registry.listByAgent('WITNESS')).toHaveLength(1);
    expect(fixture.registry.listByAgent('LEAVER')).toEqual([]);
  });

  it('a re-registration while an admin drain is in place (started while a gatekeeper ran) registers draining', async () => {
    // The first registration passes straight through; the second waits on the latch.
    const held: { gate?: ReturnType<typeof latch> } = {};
    fixture = await startControlPlane({ gatekeepers: [() => held.gate?.wait() ?? Promise.resolve()] });
    const key = await fixture.addKey('REREG', { scope: { rules: ['/x'] } });
    const client = await fixture.connect(key);
    const first = ((await client.request(registerFrame(['/x']))).result as { backendId: string }).backendId;
    const gate = latch();
    held.gate = gate;
    const reply = client.request(registerFrame(['/x/y']));
    await gate.reached;
    expect(fixture.controlPlane.drainAgent('REREG')).toEqual([first]);
    gate.open();
    const second = ((await reply).result as { backendId: string }).backendId;
    expect(fixture.registry.listByAgent('REREG').map((backend) => [backend.id, backend.state])).toEqual([[second, 'draining']]);
  });

  it('answers 503 to an upgrade still being verified when stop() begins', async () => {
    const trustStore = TrustStore.inMemory();
    const gate = latch();
    const verifier = heldVerifier(trustStore, gate);
    fixture = await startControlPlane({ trustStore, verifier, audience: 'inteli-proxy' });
    const key = await fixture.addKey('LATE', { scope: { rules: ['/late'] } });
    const outcome = fixture.tryConnect({ token: await fixture.token(key) });
    await gate.reached;
    const stopping = fixture.controlPlane.stop();
    gate.open();
    // The verification resumes before the stop destroys the remaining sockets, so the 503 is written.
    expect(await outcome).toMatchObject({ ok: false, status: 503 });
    await stopping;
    expect(fixture.controlPlane.sessionCount).toBe(0);
  });
});
