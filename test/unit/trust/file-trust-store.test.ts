import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { fingerprint } from '../../../src/shared/identity/fingerprint.js';
import { TrustStore, TRUST_STORE_FILE, type TrustedKey } from '../../../src/shared/trust/index.js';
import type { Ed25519PublicJwk } from '../../../src/shared/identity/jwk.js';
import { createLogger } from '../../../src/shared/logger.js';
import { withTimeout } from '../../helpers/control-plane-client.js';

/** The next key `store` emits as `event`, within 10 s (the watcher reloads after its quiet time). */
function nextKey(store: TrustStore, event: 'added' | 'removed'): Promise<TrustedKey> {
  return withTimeout(new Promise<TrustedKey>((resolve) => store.once(event, resolve)), 10_000, `the store to emit ${event}`);
}

let dir: string;
let publicKey: Ed25519PublicJwk;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'inteli-trust-'));
  ({ publicJwk: publicKey } = await generateKeyPair());
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('TrustStore (file)', () => {
  it('adds a key with defaults and persists it across open()', async () => {
    const store = await TrustStore.open(dir);
    const key = await store.add({ id: 'WEB001', publicKey });
    expect(key).toMatchObject({ id: 'WEB001', role: 'agent', scope: {}, fingerprint: await fingerprint(publicKey) });
    expect(Number.isNaN(Date.parse(key.createdAt))).toBe(false);
    expect(Object.isFrozen(key)).toBe(true);
    const again = await TrustStore.open(dir);
    expect(again.get('WEB001')).toEqual(key);
    expect(again.list().map((k) => k.id)).toEqual(['WEB001']);
  });

  it('writes the file with mode 0600 in a directory created with mode 0700', async () => {
    const nested = path.join(dir, 'certstore');
    const store = await TrustStore.open(nested);
    await store.add({ id: 'a', publicKey });
    expect((await stat(path.join(nested, TRUST_STORE_FILE))).mode & 0o777).toBe(0o600);
    expect((await stat(nested)).mode & 0o777).toBe(0o700);
  });

  it('leaves no tmp file behind after writes', async () => {
    const store = await TrustStore.open(dir);
    await store.add({ id: 'a', publicKey });
    await store.add({ id: 'b', publicKey });
    await store.remove('a');
    expect(await readdir(dir)).toEqual([TRUST_STORE_FILE]);
  });

  it('refuses a duplicate id with RP_ERR_ALREADY_EXISTS unless replace is set', async () => {
    const store = await TrustStore.open(dir);
    await store.add({ id: 'a', publicKey });
    const other = (await generateKeyPair()).publicJwk;
    await expect(store.add({ id: 'a', publicKey: other })).rejects.toMatchObject({ code: 'RP_ERR_ALREADY_EXISTS' });
    const events: string[] = [];
    store.on('removed', (k) => events.push(`removed:${k.fingerprint}`));
    store.on('added', (k) => events.push(`added:${k.fingerprint}`));
    const replaced = await store.add({ id: 'a', publicKey: other, role: 'admin' }, { replace: true });
    expect(replaced.role).toBe('admin');
    expect(events).toEqual([`removed:${await fingerprint(publicKey)}`, `added:${await fingerprint(other)}`]);
  });

  it('rejects the path-traversal id ../../etc/passwd without touching the file system', async () => {
    const store = await TrustStore.open(dir);
    const before = await readdir(dir);
    await expect(store.add({ id: '../../etc/passwd', publicKey })).rejects.toMatchObject({ code: 'RP_ERR_INVALID_ID' });
    expect(await store.remove('../../etc/passwd')).toBe(false);
    expect(store.get('../../etc/passwd')).toBeUndefined();
    expect(await readdir(dir)).toEqual(before);
    expect(await readdir(path.dirname(dir))).not.toContain('etc');
  });

  it('refuses a private JWK as public key', async () => {
    const store = await TrustStore.open(dir);
    const { privateJwk } = await generateKeyPair();
    await expect(store.add({ id: 'a', publicKey: privateJwk })).rejects.toMatchObject({ code: 'RP_ERR_INVALID_KEY' });
  });

  it.each([
    ['not an object', 'x'],
    ['unknown field', { paths: [] }],
    ['rules not strings', { rules: [1] }],
    ['rule without a slash', { rules: ['api'] }],
    ['too many hosts', { hosts: Array.from({ length: 65 }, (_, i) => `10.0.0.${i}`) }],
    ['host too long', { hosts: ['a'.repeat(256)] }],
    ['host with a space', { hosts: ['a b'] }],
  ])('validates the scope shape: %s', async (_name, scope) => {
    const store = TrustStore.inMemory();
    await expect(store.add({ id: 'a', publicKey, scope: scope as never })).rejects.toMatchObject({ code: 'RP_ERR_INVALID_OPTION' });
  });

  it('rejects an unknown role', async () => {
    await expect(TrustStore.inMemory().add({ id: 'a', publicKey, role: 'root' as never })).rejects.toMatchObject({ code: 'RP_ERR_INVALID_OPTION' });
  });

  it('keeps every entry when adds and removes run concurrently', async () => {
    const store = await TrustStore.open(dir);
    await store.add({ id: 'gone', publicKey });
    const ids = Array.from({ length: 25 }, (_, i) => `agent-${i}`);
    await Promise.all([...ids.map((id) => store.add({ id, publicKey })), store.remove('gone')]);
    const reopened = await TrustStore.open(dir);
    expect(reopened.list().map((k) => k.id).sort()).toEqual([...ids].sort());
  });

  it('reports a corrupt file as RP_ERR_TRUST_STORE naming the file, and never empties it', async () => {
    const file = path.join(dir, TRUST_STORE_FILE);
    await writeFile(file, '{ not json');
    await expect(TrustStore.open(dir)).rejects.toMatchObject({ code: 'RP_ERR_TRUST_STORE', message: expect.stringContaining(file) });
    await writeFile(file, JSON.stringify({ version: 1, keys: [{ id: '../x', publicKey, role: 'agent', scope: {}, createdAt: new Date().toISOString() }] }));
    await expect(TrustStore.open(dir)).rejects.toMatchObject({ code: 'RP_ERR_TRUST_STORE', message: expect.stringContaining('entry 0') });
    expect(await readFile(file, 'utf8')).toContain('../x');
  });

  it('keeps its keys and the file when a reload finds a corrupt file', async () => {
    const store = await TrustStore.open(dir);
    await store.add({ id: 'a', publicKey });
    await writeFile(path.join(dir, TRUST_STORE_FILE), '[]');
    await expect(store.reload()).rejects.toMatchObject({ code: 'RP_ERR_TRUST_STORE' });
    expect(store.get('a')).toBeDefined();
    await expect(store.add({ id: 'b', publicKey })).rejects.toMatchObject({ code: 'RP_ERR_TRUST_STORE' });
    expect(await readFile(path.join(dir, TRUST_STORE_FILE), 'utf8')).toBe('[]');
  });

  it('reload() picks up external edits and emits the diff', async () => {
    const store = await TrustStore.open(dir);
    await store.add({ id: 'a', publicKey });
    await store.add({ id: 'b', publicKey });
    const other = await TrustStore.open(dir);
    await other.remove('a');
    await other.add({ id: 'c', publicKey });
    await other.add({ id: 'b', publicKey, role: 'admin' }, { replace: true });
    const events: string[] = [];
    store.on('added', (k: TrustedKey) => events.push(`+${k.id}:${k.role}`));
    store.on('removed', (k: TrustedKey) => events.push(`-${k.id}:${k.role}`));
    await store.reload();
    expect(events.sort()).toEqual(['+b:admin', '+c:agent', '-a:agent', '-b:agent']);
    expect(store.list().map((k) => k.id)).toEqual(['b', 'c']);
  });

  it('does not overwrite an entry another process added before its own write', async () => {
    const first = await TrustStore.open(dir);
    const second = await TrustStore.open(dir);
    await second.add({ id: 'external', publicKey });
    await first.add({ id: 'local', publicKey });
    expect((await TrustStore.open(dir)).list().map((k) => k.id)).toEqual(['external', 'local']);
  });

  it('watch() picks up an edit made by another process and emits it; unwatch() stops', async () => {
    const store = await TrustStore.open(dir);
    store.watch({ debounceMs: 10 });
    store.watch();
    const added = nextKey(store, 'added');
    const other = await TrustStore.open(dir);
    await other.add({ id: 'from-cli', publicKey });
    expect((await added).id).toBe('from-cli');
    expect(store.get('from-cli')).toBeDefined();
    store.unwatch();
    store.unwatch();
    // A witness store watching the same file with a longer quiet time (200 ms against 10 ms) sees the
    // next edit: had the first store still been watching, it would have reloaded before the witness did.
    const witness = await TrustStore.open(dir);
    witness.watch({ debounceMs: 200 });
    try {
      const unwatchedEvents: string[] = [];
      store.on('added', (key) => unwatchedEvents.push(`+${key.id}`));
      store.on('removed', (key) => unwatchedEvents.push(`-${key.id}`));
      const seen = nextKey(witness, 'added');
      await other.add({ id: 'after-unwatch', publicKey });
      expect((await seen).id).toBe('after-unwatch');
      expect(store.get('after-unwatch')).toBeUndefined();
      expect(unwatchedEvents).toEqual([]);
    } finally {
      witness.unwatch();
    }
  });

  it('watch() keeps the loaded keys when the file becomes corrupt, and keeps watching', async () => {
    let logged: () => void = () => undefined;
    const failed = new Promise<void>((resolve) => (logged = resolve));
    const destination = {
      write(line: string): void {
        if (line.includes('trust store reload failed')) logged();
      },
    };
    const store = await TrustStore.open(dir, { logger: createLogger({ destination }) });
    await store.add({ id: 'a', publicKey });
    const file = path.join(dir, TRUST_STORE_FILE);
    const good = await readFile(file, 'utf8');
    store.watch({ debounceMs: 0 });
    try {
      let removed = 0;
      store.on('removed', () => (removed += 1));
      // The watcher sees the corrupt file, fails to reload it (logged) and keeps the loaded keys.
      await writeFile(file, 'garbage');
      await withTimeout(failed, 10_000, 'the watcher to log the failed reload');
      expect(store.get('a')).toBeDefined();
      expect(removed).toBe(0);
      // Still watching: the repaired file with one more key is picked up through the watcher.
      const added = nextKey(store, 'added');
      await writeFile(file, good);
      await (await TrustStore.open(dir)).add({ id: 'b', publicKey });
      expect((await added).id).toBe('b');
      expect(store.list().map((key) => key.id)).toEqual(['a', 'b']);
      expect(removed).toBe(0);
    } finally {
      store.unwatch();
    }
  });

  it('survives a throwing listener', async () => {
    const store = TrustStore.inMemory();
    store.on('added', () => {
      throw new Error('listener bug');
    });
    await expect(store.add({ id: 'a', publicKey })).resolves.toMatchObject({ id: 'a' });
    expect(store.get('a')).toBeDefined();
  });
});

describe('TrustStore.addMany (bulk import, issue 18)', () => {
  it('applies a batch in one write, refusing bad entries and existing ids per entry, and emits each change', async () => {
    const store = await TrustStore.open(dir);
    await store.add({ id: 'OLD', publicKey });
    const added: string[] = [];
    const removed: string[] = [];
    store.on('added', (key) => added.push(key.id));
    store.on('removed', (key) => removed.push(key.id));
    const { publicJwk: other } = await generateKeyPair();
    const outcomes = await store.addMany([
      { input: { id: 'NEW1', publicKey, scope: { rules: ['/a'] } } },
      { input: { id: '../x', publicKey } },
      { input: { id: 'OLD', publicKey: other } },
      { input: { id: 'OLD', publicKey: other }, replace: true },
      { input: { id: 'NEW2', publicKey, role: 'admin' } },
    ]);
    expect(outcomes.map((outcome) => ('code' in outcome ? outcome.code : (outcome as TrustedKey).id))).toEqual(['NEW1', 'RP_ERR_INVALID_ID', 'RP_ERR_ALREADY_EXISTS', 'OLD', 'NEW2']);
    expect(added.sort()).toEqual(['NEW1', 'NEW2', 'OLD']);
    expect(removed).toEqual(['OLD']);
    const again = await TrustStore.open(dir);
    expect(again.list().map((key) => [key.id, key.fingerprint])).toEqual([
      ['NEW1', await fingerprint(publicKey)],
      ['NEW2', await fingerprint(publicKey)],
      ['OLD', await fingerprint(other)],
    ]);
    expect(await readdir(dir)).toEqual([TRUST_STORE_FILE]);
  });

  it('writes nothing when every entry is refused', async () => {
    const store = await TrustStore.open(dir);
    const outcomes = await store.addMany([{ input: { id: '../x', publicKey } }]);
    expect(outcomes).toEqual([expect.objectContaining({ code: 'RP_ERR_INVALID_ID' })]);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('TrustStore.inMemory', () => {
  it('adds, lists and removes without a file and emits events', async () => {
    const store = TrustStore.inMemory();
    const seen: string[] = [];
    store.on('added', (k) => seen.push(`+${k.id}`));
    store.on('removed', (k) => seen.push(`-${k.id}`));
    await store.add({ id: 'b', publicKey, scope: { rules: ['/api'], hosts: ['127.0.0.1'] } });
    await store.add({ id: 'a', publicKey });
    expect(store.list().map((k) => k.id)).toEqual(['a', 'b']);
    expect(store.get('b')?.scope).toEqual({ rules: ['/api'], hosts: ['127.0.0.1'] });
    expect(await store.remove('b')).toBe(true);
    expect(await store.remove('b')).toBe(false);
    expect(seen).toEqual(['+b', '+a', '-b']);
    expect(store.kind).toBe('memory');
    await store.start();
    await store.stop();
    expect(store.health()).toEqual({ ok: true });
  });
});
