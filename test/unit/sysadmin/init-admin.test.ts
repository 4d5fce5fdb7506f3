import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initAdmin } from '../../../src/shared/trust/init-admin.js';
import { TrustStore } from '../../../src/shared/trust/index.js';
import { parsePrivateJwk } from '../../../src/shared/identity/jwk.js';

let base: string;
let certstore: string;
let out: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'inteli-init-unit-'));
  certstore = path.join(base, 'certstore');
  out = path.join(base, 'keys');
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('initAdmin', () => {
  it('writes the pair (private mode 0600) outside the certstore and trusts it with role admin', async () => {
    const created = await initAdmin({ certstore, out });
    expect(created).toMatchObject({ id: 'admin', privatePath: path.join(out, 'admin.key.json'), trustStore: path.join(certstore, 'trust-store.json') });
    expect((await stat(created.privatePath)).mode & 0o777).toBe(0o600);
    parsePrivateJwk(JSON.parse(await readFile(created.privatePath, 'utf8')));
    const store = await TrustStore.open(certstore);
    expect(store.get('admin')).toMatchObject({ role: 'admin', fingerprint: created.fingerprint, scope: {} });
    expect(await readdir(certstore)).toEqual(['trust-store.json']);
  });

  it('refuses an id the store already trusts, before writing any file', async () => {
    await initAdmin({ certstore, out, id: 'root' });
    await expect(initAdmin({ certstore, out: path.join(base, 'other'), id: 'root' })).rejects.toMatchObject({ code: 'RP_ERR_ALREADY_EXISTS' });
    await expect(stat(path.join(base, 'other'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses to overwrite an existing key file and leaves the store untouched', async () => {
    const first = await initAdmin({ certstore: path.join(base, 'store-a'), out });
    const before = await readFile(first.privatePath, 'utf8');
    await expect(initAdmin({ certstore, out })).rejects.toMatchObject({ code: 'RP_ERR_ALREADY_EXISTS' });
    expect(await readFile(first.privatePath, 'utf8')).toBe(before);
    expect((await TrustStore.open(certstore)).size).toBe(0);
  });

  it('refuses an --out inside the certstore, also through a symlink', async () => {
    await expect(initAdmin({ certstore, out: path.join(certstore, 'keys') })).rejects.toMatchObject({ code: 'RP_ERR_INVALID_OPTION' });
    await expect(initAdmin({ certstore, out: certstore })).rejects.toMatchObject({ code: 'RP_ERR_INVALID_OPTION' });
    await mkdir(certstore, { recursive: true });
    await symlink(certstore, path.join(base, 'link'));
    await expect(initAdmin({ certstore, out: path.join(base, 'link', 'keys') })).rejects.toMatchObject({ code: 'RP_ERR_INVALID_OPTION' });
  });

  it('rejects a bad id before touching the file system', async () => {
    await expect(initAdmin({ certstore, out, id: '../x' })).rejects.toMatchObject({ code: 'RP_ERR_INVALID_ID' });
    expect(await readdir(base)).toEqual([]);
  });
});
