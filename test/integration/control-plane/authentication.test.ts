/**
 * Authentication before the upgrade: every way a token can be wrong ends in 401 and a destroyed socket,
 * never in a WebSocket. Regression tests for the original's permanent, replayable "signature" and its
 * path-traversal key ids.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT, importJWK } from 'jose';
import { TrustStore } from '../../../src/shared/trust/index.js';
import { publicKeyPin } from '../../../src/shared/tls/public-key-pin.js';
import type { Backend, RemovalReason } from '../../../src/proxy/registry/backend.js';
import { nextEvent, registerFrame, startControlPlane, type ControlPlaneFixture, type TestKey } from '../../helpers/control-plane-fixture.js';

describe('control plane authentication', () => {
  let fixture: ControlPlaneFixture;
  let agent: TestKey;

  beforeAll(async () => {
    fixture = await startControlPlane();
    agent = await fixture.addKey('WEB001', { scope: { rules: ['/api'] } });
  });

  afterAll(async () => {
    await fixture.close();
  });

  it('accepts a valid token, acks a register with the backend id, and the registry holds the backend', async () => {
    const client = await fixture.connect(agent);
    expect(client.ws.protocol).toBe('inteli.v2');
    const reply = await client.request(registerFrame(['/api/v1']));
    expect(reply).toMatchObject({ type: 'ack', result: { backendId: expect.any(String) } });
    const backendId = (reply.result as { backendId: string }).backendId;
    expect(fixture.registry.get(backendId)).toMatchObject({
      agentId: 'WEB001',
      rules: [{ path: '/api/v1' }],
      targets: [{ host: '127.0.0.1', port: 4000, protocol: 'http' }],
      state: 'ready',
    });
    const removed = nextEvent<[Backend, RemovalReason]>(fixture.controlPlane, 'backend_removed');
    await client.close();
    const [backend, reason] = await removed;
    expect(backend.id).toBe(backendId);
    expect(reason).toBe('left');
    expect(fixture.registry.get(backendId)).toBeUndefined();
  });

  it('fix-original-replayable-signature: refuses a replayed token with 401', async () => {
    const token = await fixture.token(agent);
    const first = await fixture.tryConnect({ token });
    expect(first.ok).toBe(true);
    const second = await fixture.tryConnect({ token });
    expect(second).toMatchObject({ ok: false, status: 401 });
    expect(fixture.controlPlane.stats().unauthorized.replay).toBe(1);
  });

  it('refuses an expired token with 401', async () => {
    const token = await fixture.token(agent, { ttlSeconds: 60, now: () => Date.now() - 10 * 60_000 });
    expect(await fixture.tryConnect({ token })).toMatchObject({ ok: false, status: 401 });
  });

  it('refuses a token for another audience with 401', async () => {
    const token = await fixture.token(agent, { audience: 'someone-else' });
    expect(await fixture.tryConnect({ token })).toMatchObject({ ok: false, status: 401 });
  });

  it('refuses a token of an unknown id with 401', async () => {
    const stranger = { id: 'STRANGER', privateJwk: agent.privateJwk };
    expect(await fixture.tryConnect({ token: await fixture.token(stranger) })).toMatchObject({ ok: false, status: 401 });
  });

  it('refuses a token with a tampered signature with 401', async () => {
    const token = await fixture.token(agent);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    expect(await fixture.tryConnect({ token: `${header}.${payload}.${flipped}` })).toMatchObject({ ok: false, status: 401 });
  });

  it('refuses a token signed by another key for a trusted id with 401', async () => {
    const impostorKey = await fixture.addKey('IMPOSTOR-SOURCE');
    const token = await fixture.token({ id: 'WEB001', privateJwk: impostorKey.privateJwk });
    expect(await fixture.tryConnect({ token })).toMatchObject({ ok: false, status: 401 });
  });

  it('refuses an upgrade without a token with 401', async () => {
    expect(await fixture.tryConnect({})).toMatchObject({ ok: false, status: 401 });
  });

  it('refuses an upgrade without the inteli.v2 sub-protocol with 400', async () => {
    const outcome = await fixture.tryConnect({ token: await fixture.token(agent), protocols: ['other'] });
    expect(outcome).toMatchObject({ ok: false, status: 400 });
    if (!outcome.ok) expect(outcome.body).toContain('inteli.v2');
  });

  it('answers a plain HTTPS request with 426 Upgrade Required', async () => {
    const { address, port } = fixture.controlPlane.address;
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest({ host: address, port, path: '/', ca: fixture.cert.cert }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(426);
  });

  it('exposes the SHA-256 pin of its certificate', () => {
    expect(fixture.controlPlane.pin).toBe(publicKeyPin(fixture.cert.cert));
  });
});

describe('fix-original-path-traversal: a traversal id in sub', () => {
  let dir: string;
  let fixture: ControlPlaneFixture | undefined;

  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('is refused with 401 and touches no file', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'inteli-cp-'));
    const store = await TrustStore.open(path.join(dir, 'certstore'));
    fixture = await startControlPlane({ trustStore: store });
    const key = await fixture.addKey('WEB001', { scope: { rules: ['/'] } });
    const before = await readdir(dir, { recursive: true });
    const signer = await importJWK({ ...key.privateJwk }, 'EdDSA');
    for (const sub of ['../../etc/passwd', '../certstore/trust-store', 'WEB001/../WEB001']) {
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
        .setSubject(sub)
        .setAudience(fixture.controlPlane.audience)
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .setJti(`jti-${sub.length}-${Math.random()}`)
        .sign(signer);
      expect(await fixture.tryConnect({ token })).toMatchObject({ ok: false, status: 401 });
    }
    expect(await readdir(dir, { recursive: true })).toEqual(before);
  });
});
