/**
 * The file trust store's inter-process lock (issue 11): two processes writing the same
 * `trust-store.json` never lose an entry or bring a removed key back, a lock left by a dead process is
 * taken over, and a live lock makes a writer fail with a clear error after its bound.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import type { Ed25519PublicJwk } from '../../../src/shared/identity/jwk.js';
import { FileTrustStore, openFileTrustStore, TRUST_STORE_LOCK_FILE } from '../../../src/shared/trust/index.js';

const run = promisify(execFile);
const DIST = path.resolve('dist');
const WRITER = path.resolve('test/unit/trust/fixtures/trust-writer.mjs');

let dir: string;
let publicKey: Ed25519PublicJwk;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'inteli-lock-'));
  ({ publicJwk: publicKey } = await generateKeyPair());
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

async function writeLock(content: unknown): Promise<void> {
  await writeFile(path.join(dir, TRUST_STORE_LOCK_FILE), JSON.stringify(content), { mode: 0o600 });
}

describe('file trust store lock', () => {
  it('two processes adding and removing keys concurrently never lose an add nor resurrect a removed key', async () => {
    const count = 24;
    const [a, b] = await Promise.all(
      ['A', 'B'].map((prefix) => run(process.execPath, [WRITER, DIST, dir, prefix, String(count)], { timeout: 60_000 })),
    );
    const kept = [...(JSON.parse(a!.stdout) as string[]), ...(JSON.parse(b!.stdout) as string[])].sort();
    const store = await openFileTrustStore(dir);
    expect(store.list().map((key) => key.id)).toEqual(kept);
    expect(kept).toHaveLength(count);
    expect(await readdir(dir)).toEqual(['trust-store.json']);
  }, 90_000);

  it('takes over a lock left by a process that no longer runs', async () => {
    await writeLock({ pid: await deadPid(), acquiredAt: Date.now(), token: 'dead' });
    const store = await openFileTrustStore(dir, { lock: { timeoutMs: 5_000 } });
    await store.add({ id: 'WEB001', publicKey });
    expect((await openFileTrustStore(dir)).get('WEB001')?.id).toBe('WEB001');
    expect(await readdir(dir)).toEqual(['trust-store.json']);
  });

  it('takes over a lock older than staleMs even when its pid is alive (pid reuse)', async () => {
    await writeLock({ pid: process.pid, acquiredAt: Date.now() - 60_000, token: 'old' });
    const store = await openFileTrustStore(dir, { lock: { timeoutMs: 5_000, staleMs: 1_000 } });
    expect(await store.add({ id: 'WEB002', publicKey })).toMatchObject({ id: 'WEB002' });
  });

  it('fails with RP_ERR_TRUST_STORE naming the holder when a live lock is not released in time, and writes nothing', async () => {
    await writeLock({ pid: process.pid, acquiredAt: Date.now(), token: 'live' });
    const store = new FileTrustStore(dir, { lock: { timeoutMs: 100 } });
    await expect(store.add({ id: 'WEB003', publicKey })).rejects.toMatchObject({
      code: 'RP_ERR_TRUST_STORE',
      message: expect.stringMatching(new RegExp(`timed out after 100 ms .*held by pid ${process.pid}`)),
    });
    expect(store.get('WEB003')).toBeUndefined();
    expect(await readdir(dir)).toEqual([TRUST_STORE_LOCK_FILE]);
  });

  it('validates the lock options at construction', () => {
    expect(() => new FileTrustStore(dir, { lock: { timeoutMs: 0 } })).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION', message: expect.stringContaining('lock.timeoutMs') }));
    expect(() => new FileTrustStore(dir, { lock: { staleMs: 1.5 } })).toThrow(/lock\.staleMs/);
  });
});
