import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ClusterKeyring } from '../../../src/shared/discovery/cluster-keyring.js';
import { CLUSTER_KEY_LABELS, deriveClusterKeys, KEY_ID_BYTES } from '../../../src/shared/discovery/cluster-keys.js';
import { parseClusterSecret, parseClusterSecrets, readClusterSecretFile } from '../../../src/shared/discovery/cluster-secret.js';
import { ClusterSecretError, isProxyError } from '../../../src/shared/errors.js';

function refusal(value: unknown): ClusterSecretError {
  try {
    parseClusterSecret(value, 'PROXY_CLUSTER_SECRET');
  } catch (error) {
    if (error instanceof ClusterSecretError) return error;
    throw error;
  }
  throw new Error('the secret was accepted');
}

describe('cluster secret', () => {
  const random = randomBytes(32);

  it('accepts 32 random bytes as base64, base64url (43 characters, no padding) and hex', () => {
    expect(parseClusterSecret(random.toString('base64'))).toEqual(random);
    expect(random.toString('base64url')).toHaveLength(43);
    expect(parseClusterSecret(random.toString('base64url'))).toEqual(random);
    expect(parseClusterSecret(random.toString('hex'))).toEqual(random);
    expect(parseClusterSecret(`  ${random.toString('base64')}\n`)).toEqual(random);
  });

  it('refuses 31 bytes, naming the variable and the command that makes one', () => {
    const error = refusal(randomBytes(31).toString('base64'));
    expect(error.code).toBe('RP_ERR_CLUSTER_SECRET');
    expect(error.message).toContain('PROXY_CLUSTER_SECRET');
    expect(error.message).toContain('only 31 bytes');
    expect(error.message).toContain('openssl rand -base64 32');
  });

  it('refuses a passphrase, an empty value and a non-string', () => {
    expect(refusal('correct horse battery staple, a long passphrase!').message).toContain('passphrase');
    expect(refusal('').message).toContain('no secret');
    expect(refusal(42).message).toContain('no secret');
  });

  it('refuses encoded bytes that are obviously not random', () => {
    expect(refusal('A'.repeat(64)).message).toContain('not random');
    expect(refusal('0'.repeat(64)).message).toContain('not random');
  });

  it('never puts the secret in the error message', () => {
    const weak = randomBytes(20).toString('base64');
    expect(refusal(weak).message).not.toContain(weak);
  });

  it('parses a list newest first and names the bad entry by index', () => {
    const other = randomBytes(32);
    expect(parseClusterSecrets(`${random.toString('base64')}, ${other.toString('hex')}`)).toEqual([random, other]);
    expect(() => parseClusterSecrets(`${random.toString('base64')},short`, 'secret')).toThrow('secret[1]');
  });

  describe('file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cluster-secret-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reads one secret per line', async () => {
      const file = path.join(dir, 'secret');
      const other = randomBytes(32);
      writeFileSync(file, `${random.toString('base64')}\n${other.toString('base64')}\n`, { mode: 0o600 });
      expect(await readClusterSecretFile(file)).toEqual([random, other]);
    });

    it('refuses a missing file and a file larger than 4 KiB with RP_ERR_CLUSTER_SECRET', async () => {
      const missing = readClusterSecretFile(path.join(dir, 'missing'));
      await expect(missing).rejects.toThrow('cannot read the cluster secret file');
      const big = path.join(dir, 'big');
      writeFileSync(big, 'A'.repeat(5000));
      const error = await readClusterSecretFile(big).catch((e: unknown) => e);
      expect(isProxyError(error, 'RP_ERR_CLUSTER_SECRET')).toBe(true);
    });
  });
});

describe('cluster keys', () => {
  const secret = randomBytes(32);

  it('derives one distinct 32-byte key per purpose and a 4-byte key id, deterministically', () => {
    const keys = deriveClusterKeys(secret);
    expect(Object.keys(CLUSTER_KEY_LABELS)).toEqual(['datagram', 'probe', 'proof']);
    expect(keys.keyId).toHaveLength(KEY_ID_BYTES);
    expect(new Set([keys.datagramKey, keys.probeKey, keys.proofKey].map((key) => key.toString('hex'))).size).toBe(3);
    for (const key of [keys.datagramKey, keys.probeKey, keys.proofKey]) expect(key).toHaveLength(32);
    expect(deriveClusterKeys(Buffer.from(secret))).toEqual(keys);
    expect(keys.datagramKey.equals(secret)).toBe(false);
  });

  it('gives another secret another key id', () => {
    expect(deriveClusterKeys(randomBytes(32)).keyId.equals(deriveClusterKeys(secret).keyId)).toBe(false);
  });
});

describe('ClusterKeyring', () => {
  it('seals with the newest secret, finds every key by id, counts a repeated secret once', () => {
    const newer = randomBytes(32).toString('base64');
    const older = randomBytes(32).toString('base64');
    const ring = ClusterKeyring.from([newer, older, newer]);
    expect(ring.keys).toHaveLength(2);
    expect(ring.current).toEqual(deriveClusterKeys(parseClusterSecret(newer)));
    const old = deriveClusterKeys(parseClusterSecret(older));
    expect(ring.find(old.keyId)).toEqual([old]);
    expect(ring.find(Buffer.alloc(KEY_ID_BYTES))).toEqual([]);
  });

  it('refuses a weak secret', () => {
    expect(() => ClusterKeyring.from('short', 'discovery.secret')).toThrow(ClusterSecretError);
  });
});
