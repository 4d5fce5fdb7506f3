/**
 * Issue 18, reproduced with a few dozen agents against a proxy whose limits are small: simultaneous first
 * starts past `maxPendingHandshakes` all end registered (the 429s are retried with backoff); a refused
 * key or scope still rejects at once; unknown keys cannot take the whole handshake admission. Issue 17:
 * known keys past `maxPendingHandshakes` wait in the handshake queue instead of being refused.
 */
import { describe, it, expect, afterEach } from '@jest/globals';
import http from 'node:http';
import { TokenVerifier, type VerifiedIdentity } from '../../../src/proxy/control-plane/token-verifier.js';
import { TrustStore } from '../../../src/shared/trust/trust-store.js';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { signToken } from '../../../src/shared/identity/sign-token.js';
import { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import { startControlPlane, testCertificate, type ControlPlaneFixture, type TestKey } from '../../helpers/control-plane-fixture.js';
import { proxyAudience } from '../../../src/shared/identity/proxy-audience.js';
import { publicKeyPin } from '../../../src/shared/tls/public-key-pin.js';
import { withTimeout } from '../../helpers/control-plane-client.js';

const AGENTS = 24;
const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

/** A verifier that holds every verification until `open()` (the real one decides afterwards). */
async function gatedVerifier(trustStore: TrustStore): Promise<{ verifier: TokenVerifier; open(): void; entered: Promise<void> }> {
  // The audience the fixture's control plane derives from its certificate, which the agents sign for.
  const audience = proxyAudience(publicKeyPin((await testCertificate()).cert));
  const real = new TokenVerifier({ trustStore, audience });
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let enter!: () => void;
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const verifier = {
    async verify(token: string): Promise<VerifiedIdentity> {
      enter();
      await gate;
      return real.verify(token);
    },
  } as unknown as TokenVerifier;
  return { verifier, open, entered };
}

function agent(fixture: ControlPlaneFixture, key: TestKey, rules: string[] = ['/api']): ProxyWebServer {
  const web = new ProxyWebServer({
    proxyUrl: fixture.url,
    agentId: key.id,
    key: key.privateJwk,
    server: http.createServer((_req, res) => res.end('ok')),
    rules,
    pin: fixture.controlPlane.pin,
    reconnect: { initialDelayMs: 10, maxDelayMs: 100 },
    drainTimeoutMs: 1000,
    closeGraceMs: 200,
  });
  web.on('error', () => undefined);
  cleanups.push(() => web.stop());
  return web;
}

describe('first starts under a handshake storm (issue 18)', () => {
  it(`${AGENTS} simultaneous first starts past maxPendingHandshakes all end registered`, async () => {
    const trustStore = TrustStore.inMemory();
    const gated = await gatedVerifier(trustStore);
    // Without the queue (issue 17), so that the storm meets 429s.
    const fixture = await startControlPlane({ trustStore, verifier: gated.verifier, limits: { maxPendingHandshakes: 2, maxQueuedHandshakes: 0 } });
    cleanups.push(() => fixture.close());
    const keys = await Promise.all(Array.from({ length: AGENTS }, (_, i) => fixture.addKey(`STORM${i}`, { scope: { rules: ['/api'] } })));
    const agents = keys.map((key) => agent(fixture, key));
    let limited = 0;
    for (const web of agents) {
      web.on('retrying', (info) => {
        if (info.code === 'RP_ERR_LIMIT_EXCEEDED') limited += 1;
        // The verifications stay held until the storm has been met several times: 429s for certain.
        if (limited >= AGENTS) gated.open();
      });
    }
    await withTimeout(Promise.all(agents.map((web) => web.start())), 60_000, 'every agent to register');
    expect(limited).toBeGreaterThanOrEqual(AGENTS);
    expect(fixture.controlPlane.stats().upgradesRefused.pending_handshakes).toBeGreaterThan(0);
    expect(new Set(fixture.registry.list().map((backend) => backend.agentId)).size).toBe(AGENTS);
    expect(agents.every((web) => web.registered)).toBe(true);
  });

  it(`${AGENTS} simultaneous first starts past maxPendingHandshakes wait in the handshake queue: none refused, all registered`, async () => {
    const trustStore = TrustStore.inMemory();
    const gated = await gatedVerifier(trustStore);
    const fixture = await startControlPlane({ trustStore, verifier: gated.verifier, limits: { maxPendingHandshakes: 2 } });
    cleanups.push(() => fixture.close());
    const keys = await Promise.all(Array.from({ length: AGENTS }, (_, i) => fixture.addKey(`QUEUED${i}`, { scope: { rules: ['/api'] } })));
    const agents = keys.map((key) => agent(fixture, key));
    let retried = 0;
    for (const web of agents) web.on('retrying', () => (retried += 1));
    const started = Promise.all(agents.map((web) => web.start()));
    // Every verification is held until all the others are queued behind the two pending ones.
    await withTimeout(
      (async () => {
        while (fixture.controlPlane.stats().queuedHandshakes < AGENTS - 2) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      30_000,
      'the storm to queue up',
    );
    expect(fixture.controlPlane.pendingHandshakes).toBe(2);
    gated.open();
    await withTimeout(started, 60_000, 'every agent to register');
    expect(retried).toBe(0);
    expect(fixture.controlPlane.stats().upgradesRefused).toEqual({});
    expect(new Set(fixture.registry.list().map((backend) => backend.agentId)).size).toBe(AGENTS);
  });

  it('past maxQueuedHandshakes a known key gets 429', async () => {
    const trustStore = TrustStore.inMemory();
    const gated = await gatedVerifier(trustStore);
    const fixture = await startControlPlane({ trustStore, verifier: gated.verifier, limits: { maxPendingHandshakes: 1, maxQueuedHandshakes: 1 } });
    cleanups.push(() => fixture.close());
    const keys = await Promise.all(['QFULL1', 'QFULL2', 'QFULL3'].map((id) => fixture.addKey(id, { scope: { rules: ['/api'] } })));
    const first = fixture.tryConnect({ token: await fixture.token(keys[0]!) });
    await withTimeout(gated.entered, 5000, 'the first verification to start');
    const second = fixture.tryConnect({ token: await fixture.token(keys[1]!) });
    await withTimeout(
      (async () => {
        while (fixture.controlPlane.stats().queuedHandshakes < 1) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      5000,
      'the second upgrade to queue',
    );
    expect(await fixture.tryConnect({ token: await fixture.token(keys[2]!) })).toMatchObject({ ok: false, status: 429 });
    gated.open();
    expect(await first).toMatchObject({ ok: true });
    expect(await second).toMatchObject({ ok: true });
    expect(fixture.controlPlane.stats().upgradesRefused).toEqual({ pending_handshakes: 1 });
  });

  it('a refused key or scope still rejects at once on the same small-limit proxy', async () => {
    const fixture = await startControlPlane({ limits: { maxPendingHandshakes: 2 } });
    cleanups.push(() => fixture.close());
    const known = await fixture.addKey('KNOWN1', { scope: { rules: ['/api'] } });
    const stranger: TestKey = { id: 'STRANGER1', privateJwk: (await generateKeyPair('STRANGER1')).privateJwk };
    const unknownAgent = agent(fixture, stranger);
    let retried = 0;
    unknownAgent.on('retrying', () => (retried += 1));
    await expect(unknownAgent.start()).rejects.toMatchObject({ code: 'RP_ERR_UNAUTHORIZED' });
    await expect(agent(fixture, known, ['/admin']).start()).rejects.toMatchObject({ code: 'RP_ERR_OUT_OF_SCOPE' });
    expect(retried).toBe(0);
  });

  it('unknown keys hold at most maxPendingUnknownHandshakes; a known key is still admitted', async () => {
    const trustStore = TrustStore.inMemory();
    const gated = await gatedVerifier(trustStore);
    const fixture = await startControlPlane({ trustStore, verifier: gated.verifier, limits: { maxPendingHandshakes: 4, maxPendingUnknownHandshakes: 1 } });
    cleanups.push(() => fixture.close());
    const known = await fixture.addKey('KNOWN2', { scope: { rules: ['/api'] } });
    const stranger = await generateKeyPair('STRANGER2');
    const strangerToken = (): Promise<string> => signToken(stranger.privateJwk, { subject: 'STRANGER2', audience: 'inteli-proxy', ttlSeconds: 60 });
    const firstStranger = fixture.tryConnect({ token: await strangerToken() });
    await withTimeout(gated.entered, 5000, 'the first verification to start');
    expect(await fixture.tryConnect({ token: await strangerToken() })).toMatchObject({ ok: false, status: 429 });
    expect(fixture.controlPlane.stats().upgradesRefused).toEqual({ pending_unknown_handshakes: 1 });
    const knownDial = fixture.tryConnect({ token: await fixture.token(known) });
    await withTimeout(
      (async () => {
        while (fixture.controlPlane.pendingHandshakes < 2) await new Promise((resolve) => setImmediate(resolve));
      })(),
      5000,
      'the known key to be admitted',
    );
    gated.open();
    expect(await knownDial).toMatchObject({ ok: true });
    expect(await firstStranger).toMatchObject({ ok: false, status: 401 });
  });
});
