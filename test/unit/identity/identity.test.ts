import { describe, it, expect } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { AGENT_ID_PATTERN, assertValidAgentId, isValidAgentId } from '../../../src/shared/identity/agent-id.js';
import { generateKeyPair, publicKeyFromPem } from '../../../src/shared/identity/key-pair.js';
import { parsePrivateJwk, parsePublicJwk, toPublicJwk } from '../../../src/shared/identity/jwk.js';
import { fingerprint } from '../../../src/shared/identity/fingerprint.js';
import { signToken } from '../../../src/shared/identity/sign-token.js';

describe('agent ids', () => {
  it.each(['WEB001', 'a', 'web-1.prod_eu', 'A'.repeat(64)])('accepts %s', (id) => {
    expect(isValidAgentId(id)).toBe(true);
    expect(assertValidAgentId(id)).toBe(id);
  });

  it.each(['', '../../etc/passwd', '.hidden', '-x', 'a/b', 'a\\b', 'a b', 'a\u0000', 'A'.repeat(65), 'é'])('rejects %j with RP_ERR_INVALID_ID', (id) => {
    expect(isValidAgentId(id)).toBe(false);
    expect(() => assertValidAgentId(id)).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_ID' }));
  });

  it('rejects non-strings', () => {
    for (const value of [undefined, null, 42, {}, ['a']]) expect(isValidAgentId(value)).toBe(false);
  });

  it('exports the documented pattern', () => {
    expect(AGENT_ID_PATTERN.source).toBe('^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$');
  });
});

describe('key pairs and JWK guards', () => {
  it('generates an Ed25519 pair whose public half matches the private one', async () => {
    const { privateJwk, publicJwk } = await generateKeyPair('WEB001');
    expect(publicJwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: privateJwk.x, kid: 'WEB001', alg: 'EdDSA' });
    expect(privateJwk.d).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect('d' in publicJwk).toBe(false);
    expect(toPublicJwk(privateJwk)).toEqual(publicJwk);
    expect(Object.isFrozen(publicJwk)).toBe(true);
  });

  it('refuses a public JWK that contains d', async () => {
    const { privateJwk } = await generateKeyPair();
    expect(() => parsePublicJwk(privateJwk)).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_KEY', message: expect.stringContaining('"d"') }));
  });

  it.each([
    ['not an object', 'x', /JWK object/],
    ['wrong kty', { kty: 'EC', crv: 'Ed25519', x: 'A'.repeat(43) }, /kty/],
    ['wrong crv', { kty: 'OKP', crv: 'X25519', x: 'A'.repeat(43) }, /crv/],
    ['short x', { kty: 'OKP', crv: 'Ed25519', x: 'AAAA' }, /32 bytes/],
    ['padded x', { kty: 'OKP', crv: 'Ed25519', x: `${'A'.repeat(43)}=` }, /32 bytes/],
    ['bad alg', { kty: 'OKP', crv: 'Ed25519', x: 'A'.repeat(43), alg: 'RS256' }, /alg/],
  ])('parsePublicJwk rejects %s', (_name, value, message) => {
    expect(() => parsePublicJwk(value)).toThrow(message);
  });

  it('parsePrivateJwk requires d of 32 bytes and drops unknown members', async () => {
    const { privateJwk } = await generateKeyPair();
    expect(() => parsePrivateJwk({ ...privateJwk, d: 'short' })).toThrow(/d must be/);
    expect(parsePrivateJwk({ ...privateJwk, extra: 1 })).not.toHaveProperty('extra');
  });

  it('reads an SPKI PEM Ed25519 public key and rejects other key types', async () => {
    const ed = generateKeyPairSync('ed25519');
    const pem = ed.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const jwk = await publicKeyFromPem(pem);
    expect(jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: (ed.publicKey.export({ format: 'jwk' }) as { x: string }).x });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await expect(publicKeyFromPem(ec)).rejects.toMatchObject({ code: 'RP_ERR_INVALID_KEY', message: expect.stringContaining('Ed25519') });
    await expect(publicKeyFromPem('-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----')).rejects.toMatchObject({ code: 'RP_ERR_INVALID_KEY' });
    await expect(publicKeyFromPem('nope')).rejects.toMatchObject({ code: 'RP_ERR_INVALID_KEY' });
  });
});

describe('fingerprint', () => {
  it('is the RFC 7638 thumbprint (RFC 8037 appendix A.3 test vector)', async () => {
    const jwk = parsePublicJwk({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' });
    expect(await fingerprint(jwk)).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  });

  it('does not depend on kid or alg', async () => {
    const { publicJwk } = await generateKeyPair('A');
    const { kid: _kid, alg: _alg, ...bare } = publicJwk;
    expect(await fingerprint(publicJwk)).toBe(await fingerprint(parsePublicJwk(bare)));
  });
});

describe('signToken', () => {
  it('signs an EdDSA JWT with kid = sub, aud, iat, exp = iat + ttl and a random 128-bit jti', async () => {
    const { privateJwk } = await generateKeyPair('WEB001');
    const now = () => 1_700_000_000_500;
    const token = await signToken(privateJwk, { subject: 'WEB001', audience: 'inteli-proxy', ttlSeconds: 30, now });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: 'WEB001' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: 'WEB001', aud: 'inteli-proxy', iat: 1_700_000_000, exp: 1_700_000_030 });
    expect(claims.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const other = decodeJwt(await signToken(privateJwk, { subject: 'WEB001', audience: 'inteli-proxy', now }));
    expect(other.jti).not.toBe(claims.jti);
    expect(other.exp).toBe(1_700_000_060);
  });

  it('rejects a ttl above 120 s, an invalid subject and an empty audience', async () => {
    const { privateJwk } = await generateKeyPair();
    await expect(signToken(privateJwk, { subject: 'a', audience: 'x', ttlSeconds: 121 })).rejects.toMatchObject({ code: 'RP_ERR_INVALID_OPTION' });
    await expect(signToken(privateJwk, { subject: '../x', audience: 'x' })).rejects.toMatchObject({ code: 'RP_ERR_INVALID_ID' });
    await expect(signToken(privateJwk, { subject: 'a', audience: '' })).rejects.toMatchObject({ code: 'RP_ERR_INVALID_OPTION' });
  });
});
