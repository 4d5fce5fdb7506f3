import { describe, expect, it } from '@jest/globals';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { buildTrustedKey } from '../../../src/shared/trust/trusted-key.js';
import { hashValueOf, parseStoredTrustEntry, parseTrustedKeyJson, serializeTrustedKey } from '../../../src/shared/trust/redis/stored-trust-entry.js';
import { compareStreamIds, isStreamId } from '../../../src/shared/trust/redis/stream-id.js';
import { parseFleetNode } from '../../../src/shared/fleet/fleet-node.js';

describe('entries read back from Redis are validated like the trust-store file', () => {
  it('round-trips a key through its stored form', async () => {
    const { publicJwk } = await generateKeyPair();
    const key = await buildTrustedKey({ id: 'WEB001', publicKey: publicJwk, scope: { rules: ['/api'] } }, new Date(0).toISOString());
    expect(await parseTrustedKeyJson(serializeTrustedKey(key), 'WEB001')).toEqual(key);
    expect(await parseStoredTrustEntry(hashValueOf(7, serializeTrustedKey(key)), 'WEB001')).toEqual({ version: 7, key });
  });

  it('refuses a swapped key, a moved entry, a private key, junk and a bad version, each with a reason', async () => {
    const { publicJwk, privateJwk } = await generateKeyPair();
    const other = (await generateKeyPair()).publicJwk;
    const key = await buildTrustedKey({ id: 'WEB001', publicKey: publicJwk }, new Date(0).toISOString());
    const stored = JSON.parse(serializeTrustedKey(key)) as Record<string, unknown>;
    await expect(parseTrustedKeyJson(JSON.stringify({ ...stored, publicKey: other }), 'WEB001')).rejects.toThrow(/fingerprint does not match/);
    await expect(parseTrustedKeyJson(serializeTrustedKey(key), 'WEB002')).rejects.toThrow(/stored under "WEB002"/);
    await expect(parseTrustedKeyJson(JSON.stringify({ ...stored, publicKey: privateJwk }), 'WEB001')).rejects.toMatchObject({ code: 'RP_ERR_TRUST_STORE' });
    await expect(parseTrustedKeyJson('{', 'WEB001')).rejects.toThrow(/not JSON/);
    await expect(parseTrustedKeyJson(JSON.stringify({ ...stored, createdAt: 'yesterday' }), 'WEB001')).rejects.toThrow(/createdAt/);
    await expect(parseStoredTrustEntry(hashValueOf(0, serializeTrustedKey(key)), 'WEB001')).rejects.toThrow(/version/);
    await expect(parseTrustedKeyJson('x'.repeat(70 * 1024), 'WEB001')).rejects.toThrow(/larger than/);
  });

  it('orders stream ids numerically, not as strings', () => {
    expect(compareStreamIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareStreamIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareStreamIds('10-10', '10-10')).toBe(0);
    expect(isStreamId('1700000000000-3')).toBe(true);
    expect(isStreamId('1700000000000')).toBe(false);
    expect(isStreamId('$')).toBe(false);
  });

  it('refuses a fleet announcement with a credential in an address or a non-URL', () => {
    const base = { id: 'proxy-a', addresses: ['wss://10.0.0.1:3042'], startedAt: new Date(0).toISOString() };
    expect(parseFleetNode(base)).toMatchObject({ id: 'proxy-a' });
    expect(parseFleetNode({ ...base, addresses: ['wss://user:pw@10.0.0.1:3042'] })).toMatch(/addresses/);
    expect(parseFleetNode({ ...base, addresses: ['javascript:alert(1)'] })).toMatch(/addresses/);
    expect(parseFleetNode({ ...base, id: '' })).toMatch(/id/);
  });
});
