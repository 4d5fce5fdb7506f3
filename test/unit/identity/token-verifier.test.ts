import { describe, it, expect, beforeEach } from '@jest/globals';
import { SignJWT, importJWK } from 'jose';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { signToken } from '../../../src/shared/identity/sign-token.js';
import type { Ed25519PrivateJwk } from '../../../src/shared/identity/jwk.js';
import { TrustStore } from '../../../src/shared/trust/index.js';
import { MemoryReplayCache } from '../../../src/shared/trust/memory-replay-cache.js';
import { TokenVerifier, extractBearer } from '../../../src/proxy/control-plane/token-verifier.js';

const AUD = 'inteli-proxy';
const T0 = 1_800_000_000_000;
let clock = T0;
const now = (): number => clock;
let store: TrustStore;
let agentKey: Ed25519PrivateJwk;
let verifier: TokenVerifier;

beforeEach(async () => {
  clock = T0;
  store = TrustStore.inMemory();
  const pair = await generateKeyPair('WEB001');
  agentKey = pair.privateJwk;
  await store.add({ id: 'WEB001', publicKey: pair.publicJwk, scope: { rules: ['/api'] } });
  verifier = new TokenVerifier({ trustStore: store, audience: AUD, now });
});

const sign = (options: Partial<{ subject: string; audience: string; ttlSeconds: number }> = {}, key = agentKey): Promise<string> =>
  signToken(key, { subject: 'WEB001', audience: AUD, now, ...options });

async function customToken(claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'EdDSA', typ: 'JWT', kid: 'WEB001' }): Promise<string> {
  const key = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: agentKey.x, d: agentKey.d }, 'EdDSA');
  const iat = Math.floor(clock / 1000);
  return new SignJWT({ sub: 'WEB001', aud: AUD, iat, exp: iat + 60, jti: 'j-1', ...claims })
    .setProtectedHeader(header as { alg: string })
    .sign(key);
}

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toMatchObject({ code: 'RP_ERR_UNAUTHORIZED', statusCode: 401 });
    return (error as { reason: string }).reason;
  }
  throw new Error('expected a rejection');
}

describe('TokenVerifier', () => {
  it('returns the identity of a valid token', async () => {
    const identity = await verifier.verify(await sign());
    const trusted = store.get('WEB001')!;
    expect(identity).toEqual({ id: 'WEB001', role: 'agent', scope: { rules: ['/api'] }, fingerprint: trusted.fingerprint });
    expect(Object.isFrozen(identity)).toBe(true);
  });

  it('refuses a replayed token (reason replay)', async () => {
    const token = await sign();
    await verifier.verify(token);
    expect(await reasonOf(verifier.verify(token))).toBe('replay');
  });

  it('refuses an expired token with a frozen clock (reason expired)', async () => {
    const token = await sign({ ttlSeconds: 30 });
    clock += 36_000; // past exp + 5 s tolerance
    expect(await reasonOf(verifier.verify(token))).toBe('expired');
  });

  it('accepts a token within the clock tolerance after exp', async () => {
    const token = await sign({ ttlSeconds: 30 });
    clock += 33_000;
    await expect(verifier.verify(token)).resolves.toMatchObject({ id: 'WEB001' });
  });

  it('refuses a token issued in the future (reason not_yet_valid)', async () => {
    const token = await customToken({ iat: Math.floor(clock / 1000) + 60, exp: Math.floor(clock / 1000) + 100 });
    expect(await reasonOf(verifier.verify(token))).toBe('not_yet_valid');
  });

  it('refuses a lifetime above 120 s (reason lifetime)', async () => {
    const iat = Math.floor(clock / 1000);
    expect(await reasonOf(verifier.verify(await customToken({ iat, exp: iat + 121 })))).toBe('lifetime');
  });

  it('refuses a wrong audience (reason audience)', async () => {
    expect(await reasonOf(verifier.verify(await sign({ audience: 'other-proxy' })))).toBe('audience');
  });

  it('refuses a tampered signature (reason signature)', async () => {
    const [header, payload, signature] = (await sign()).split('.');
    const flipped = `${signature!.slice(0, 10)}${signature![10] === 'A' ? 'B' : 'A'}${signature!.slice(11)}`;
    expect(await reasonOf(verifier.verify(`${header}.${payload}.${flipped}`))).toBe('signature');
  });

  it('refuses a tampered payload (reason signature)', async () => {
    const [header, , signature] = (await sign()).split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'WEB001', aud: AUD, iat: clock / 1000, exp: clock / 1000 + 60, jti: 'x', role: 'admin' })).toString('base64url');
    expect(await reasonOf(verifier.verify(`${header}.${forged}.${signature}`))).toBe('signature');
  });

  it('refuses a token signed by another key under a trusted id (reason signature)', async () => {
    const { privateJwk } = await generateKeyPair();
    expect(await reasonOf(verifier.verify(await sign({}, privateJwk)))).toBe('signature');
  });

  it('refuses an unknown id (reason unknown_key)', async () => {
    const pair = await generateKeyPair();
    expect(await reasonOf(verifier.verify(await signToken(pair.privateJwk, { subject: 'WEB999', audience: AUD, now })))).toBe('unknown_key');
  });

  it('refuses a removed key at once (reason unknown_key)', async () => {
    const token = await sign();
    await store.remove('WEB001');
    expect(await reasonOf(verifier.verify(token))).toBe('unknown_key');
  });

  it('refuses a kid that differs from sub (reason kid_mismatch)', async () => {
    expect(await reasonOf(verifier.verify(await customToken({}, { alg: 'EdDSA', typ: 'JWT', kid: 'ADMIN' })))).toBe('kid_mismatch');
  });

  it('refuses missing claims and a missing jti (reason malformed)', async () => {
    expect(await reasonOf(verifier.verify(await customToken({ jti: undefined })))).toBe('malformed');
    expect(await reasonOf(verifier.verify(await customToken({ exp: undefined })))).toBe('malformed');
    expect(await reasonOf(verifier.verify(await customToken({ sub: '../../etc/passwd' })))).toBe('malformed');
  });

  it('refuses non-EdDSA algorithms and garbage (reasons algorithm, malformed, missing)', async () => {
    const hs = await new SignJWT({ sub: 'WEB001', aud: AUD, iat: clock / 1000, exp: clock / 1000 + 60, jti: 'j' })
      .setProtectedHeader({ alg: 'HS256', kid: 'WEB001' })
      .sign(new Uint8Array(32));
    expect(await reasonOf(verifier.verify(hs))).toBe('algorithm');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"WEB001"}').toString('base64url')}.`;
    expect(await reasonOf(verifier.verify(none))).toBe('algorithm');
    expect(await reasonOf(verifier.verify('not.a.jwt'))).toBe('malformed');
    expect(await reasonOf(verifier.verify('x'.repeat(5000)))).toBe('malformed');
    expect(await reasonOf(verifier.verify(''))).toBe('missing');
  });

  it('fails closed when the replay cache is full (reason replay_cache_full)', async () => {
    const small = new TokenVerifier({ trustStore: store, audience: AUD, now, replayCache: new MemoryReplayCache({ maxEntries: 1, now }) });
    await small.verify(await sign());
    expect(await reasonOf(small.verify(await sign()))).toBe('replay_cache_full');
  });

  it('never puts the token in the error message', async () => {
    const token = await sign({ audience: 'wrong' });
    const error = await verifier.verify(token).catch((e: unknown) => e as Error);
    expect(String((error as Error).message)).not.toContain(token.split('.')[2]);
    expect(JSON.stringify(error)).not.toContain(token.split('.')[1]);
  });

  it('validates its options', () => {
    expect(() => new TokenVerifier({ trustStore: store, audience: '' })).toThrow(/audience/);
    expect(() => new TokenVerifier({ trustStore: store, audience: AUD, maxTokenAgeSeconds: 121 })).toThrow(/maxTokenAgeSeconds/);
    expect(() => new TokenVerifier({ trustStore: store, audience: AUD, clockToleranceSeconds: -1 })).toThrow(/clockToleranceSeconds/);
  });
});

describe('extractBearer', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc.def.ghi', 'abc.def.ghi'],
    ['Bearer  a-b_c.d ', 'a-b_c.d'],
  ])('extracts from %j', (header, token) => {
    expect(extractBearer(header)).toBe(token);
  });

  it.each([undefined, '', 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', `Bearer ${'a'.repeat(5000)}`])('returns undefined for %j', (header) => {
    expect(extractBearer(header)).toBeUndefined();
  });
});
