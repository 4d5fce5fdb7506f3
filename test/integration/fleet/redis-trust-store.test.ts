import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from 'redis';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import type { Ed25519PublicJwk } from '../../../src/shared/identity/jwk.js';
import { RedisTrustStore } from '../../../src/shared/trust/redis/redis-trust-store.js';
import type { RedisTrustStoreOptions } from '../../../src/shared/trust/redis/redis-trust-store-options.js';
import { redisTrustKeys } from '../../../src/shared/trust/redis/redis-trust-keys.js';
import { hashValueOf, serializeTrustedKey } from '../../../src/shared/trust/redis/stored-trust-entry.js';
import type { TrustedKey } from '../../../src/shared/trust/trusted-key.js';
import { eventually } from '../../helpers/eventually.js';
import { RedisServerFixture } from '../../helpers/redis-server.js';
import { TcpRelay } from '../../helpers/tcp-relay.js';

let redis: RedisServerFixture;
let raw: ReturnType<typeof createClient>;
let publicKey: Ed25519PublicJwk;
let otherKey: Ed25519PublicJwk;
const cleanups: Array<() => Promise<void>> = [];
let prefixCounter = 0;

beforeAll(async () => {
  redis = await RedisServerFixture.start();
  raw = createClient({ url: redis.url });
  raw.on('error', () => undefined);
  await raw.connect();
  ({ publicJwk: publicKey } = await generateKeyPair());
  ({ publicJwk: otherKey } = await generateKeyPair());
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  raw.destroy();
  await redis.close();
});

/** A fresh prefix per test: one redis-server per file, isolated keys per test. */
function freshPrefix(): string {
  prefixCounter += 1;
  return `t${prefixCounter}:`;
}

async function openStore(options: Partial<RedisTrustStoreOptions> & { prefix: string }): Promise<RedisTrustStore> {
  const store = new RedisTrustStore({ url: redis.url, streamBlockMs: 200, ...options });
  cleanups.push(() => store.stop());
  await store.start();
  return store;
}

async function relay(): Promise<TcpRelay> {
  const tcp = await TcpRelay.start(redis.port);
  cleanups.push(() => tcp.close());
  return tcp;
}

function record(store: RedisTrustStore): string[] {
  const events: string[] = [];
  store.on('added', (key: TrustedKey) => events.push(`added:${key.id}`));
  store.on('removed', (key: TrustedKey) => events.push(`removed:${key.id}`));
  return events;
}

function nextEvent(store: RedisTrustStore, event: 'added' | 'removed', id: string): Promise<TrustedKey> {
  return new Promise((resolve) => {
    const listener = (key: TrustedKey): void => {
      if (key.id !== id) return;
      store.off(event, listener);
      resolve(key);
    };
    store.on(event, listener);
  });
}

describe('RedisTrustStore: one trust shared by several proxies', () => {
  it('a key added through one store is trusted by the other, and its removal reaches it', async () => {
    const prefix = freshPrefix();
    const a = await openStore({ prefix });
    const b = await openStore({ prefix });
    const addedOnB = nextEvent(b, 'added', 'WEB001');
    const key = await a.add({ id: 'WEB001', publicKey, scope: { rules: ['/api'] } });
    expect(a.get('WEB001')).toEqual(key);
    expect(await addedOnB).toEqual(key);
    expect(b.get('WEB001')).toEqual(key);

    const removedOnA = nextEvent(a, 'removed', 'WEB001');
    expect(await b.remove('WEB001')).toBe(true);
    expect(b.get('WEB001')).toBeUndefined();
    await removedOnA;
    expect(a.get('WEB001')).toBeUndefined();
    expect(await a.remove('WEB001')).toBe(false);
    expect(a.kind).toBe('redis');
    expect(a.health()).toEqual({ ok: true });
  });

  it('refuses a duplicate id with RP_ERR_ALREADY_EXISTS, and a replace reaches the other store as removed then added', async () => {
    const prefix = freshPrefix();
    const a = await openStore({ prefix });
    const b = await openStore({ prefix });
    await a.add({ id: 'a', publicKey });
    await expect(b.add({ id: 'a', publicKey: otherKey })).rejects.toMatchObject({ code: 'RP_ERR_ALREADY_EXISTS' });
    const events = record(a);
    const replacedOnA = nextEvent(a, 'added', 'a');
    const replaced = await b.add({ id: 'a', publicKey: otherKey, role: 'admin' }, { replace: true });
    await replacedOnA;
    expect(events).toEqual(['removed:a', 'added:a']);
    expect(a.get('a')).toEqual(replaced);
  });

  it('addMany (keys import) stores each key of a batch and answers each: added, or refused with its code', async () => {
    const prefix = freshPrefix();
    const a = await openStore({ prefix });
    const b = await openStore({ prefix });
    await a.add({ id: 'dup', publicKey });
    const addedOnB = nextEvent(b, 'added', 'batch2');
    const outcomes = await a.addMany([
      { input: { id: 'batch1', publicKey } },
      { input: { id: 'dup', publicKey: otherKey } },
      { input: { id: 'batch2', publicKey: otherKey, scope: { rules: ['/api'] } } },
      { input: { id: 'bad id!', publicKey } },
    ]);
    expect(outcomes.map((outcome) => ('code' in outcome ? outcome.code : outcome.id))).toEqual(['batch1', 'RP_ERR_ALREADY_EXISTS', 'batch2', 'RP_ERR_INVALID_ID']);
    await addedOnB;
    expect(b.get('batch1')?.publicKey).toEqual(publicKey);
    expect(b.get('dup')?.publicKey).toEqual(publicKey);
  });

  it('writes the key, its version and the change stream entry in one step', async () => {
    const prefix = freshPrefix();
    const names = redisTrustKeys(prefix);
    const a = await openStore({ prefix });
    await a.add({ id: 'k1', publicKey });
    await a.add({ id: 'k2', publicKey });
    await a.remove('k1');
    expect(await raw.get(names.version)).toBe('3');
    expect(await raw.hKeys(names.keys)).toEqual(['k2']);
    const changes = await raw.xRange(names.changes, '-', '+');
    expect((changes ?? []).map((change) => [change.message.v, change.message.op, change.message.id])).toEqual([
      ['1', 'add', 'k1'],
      ['2', 'add', 'k2'],
      ['3', 'remove', 'k1'],
    ]);
    expect(a.status()).toMatchObject({ connected: true, version: 3, stale: false });
  });

  it('a store cut off from Redis catches up in order, revocations included, when its link is back', async () => {
    const prefix = freshPrefix();
    const tcp = await relay();
    const writer = await openStore({ prefix });
    await writer.add({ id: 'old', publicKey });
    const follower = await openStore({ prefix, url: tcp.url });
    expect(follower.get('old')).toBeDefined();
    const reloadsBefore = follower.stats.fullReloads;
    const events = record(follower);

    tcp.cut();
    await eventually('the follower sees its link down', () => !follower.status().connected);
    await writer.add({ id: 'x', publicKey });
    await writer.add({ id: 'y', publicKey });
    await writer.remove('x');
    await writer.remove('old');
    // Within the staleness bound the last known keys still serve, the revoked one included.
    expect(follower.get('old')).toBeDefined();

    const caughtUp = nextEvent(follower, 'removed', 'old');
    tcp.restore();
    await caughtUp;
    expect(events).toEqual(['added:x', 'added:y', 'removed:x', 'removed:old']);
    expect(follower.list().map((key) => key.id)).toEqual(['y']);
    expect(follower.stats.fullReloads).toBe(reloadsBefore);
    expect(follower.stats.disconnects).toBeGreaterThanOrEqual(1);
  });

  it('re-reads every key when the stream was trimmed past it', async () => {
    const prefix = freshPrefix();
    const names = redisTrustKeys(prefix);
    const tcp = await relay();
    const writer = await openStore({ prefix });
    await writer.add({ id: 'keep', publicKey });
    await writer.add({ id: 'revoked', publicKey });
    const follower = await openStore({ prefix, url: tcp.url });
    const reloadsBefore = follower.stats.fullReloads;

    tcp.cut();
    await eventually('the follower sees its link down', () => !follower.status().connected);
    await writer.remove('revoked');
    await writer.add({ id: 'new1', publicKey });
    await writer.add({ id: 'new2', publicKey });
    await raw.xTrim(names.changes, 'MAXLEN', 1);

    const revoked = nextEvent(follower, 'removed', 'revoked');
    tcp.restore();
    await revoked;
    await eventually('the follower holds every key', () => follower.size === 3);
    expect(follower.list().map((key) => key.id)).toEqual(['keep', 'new1', 'new2']);
    expect(follower.stats.fullReloads).toBe(reloadsBefore + 1);
  });

  it('ignores, logs and counts a tampered or malformed entry, never trusting it', async () => {
    const prefix = freshPrefix();
    const names = redisTrustKeys(prefix);
    const writer = await openStore({ prefix });
    const good = await writer.add({ id: 'good', publicKey });
    // The key swapped for another without its fingerprint, an entry stored under another id, junk.
    const swapped = { ...JSON.parse(serializeTrustedKey(good)), id: 'swapped', publicKey: otherKey };
    await raw.hSet(names.keys, 'swapped', hashValueOf(9, JSON.stringify(swapped)));
    await raw.hSet(names.keys, 'moved', hashValueOf(9, serializeTrustedKey(good)));
    await raw.hSet(names.keys, 'junk', '{"version":1,"entry":{"id":"junk","publicKey":{"kty":"RSA"}}}');
    await raw.hSet(names.keys, 'notjson', 'not json');

    const reader = await openStore({ prefix });
    expect(reader.list().map((key) => key.id)).toEqual(['good']);
    expect(reader.get('swapped')).toBeUndefined();
    expect(reader.stats.rejectedEntries).toBe(4);

    // A forged change on the stream is not applied either: the store re-reads from the hash instead.
    const reloads = reader.stats.fullReloads;
    const version = Number(await raw.get(names.version));
    await raw.xAdd(names.changes, '*', { v: String(version + 1), op: 'add', id: 'forged', entry: '{"id":"forged"}' });
    await eventually('the forged change is rejected', () => reader.stats.rejectedEntries === 5);
    await eventually('the store re-read every key', () => reader.stats.fullReloads === reloads + 1);
    expect(reader.get('forged')).toBeUndefined();
    expect(reader.get('good')).toEqual(good);
  });

  it('past trustMaxStalenessMs without Redis, get() refuses every key and health() says why; contact restores both', async () => {
    const prefix = freshPrefix();
    const tcp = await relay();
    let clock = Date.now();
    const writer = await openStore({ prefix });
    await writer.add({ id: 'k', publicKey });
    const store = await openStore({ prefix, url: tcp.url, trustMaxStalenessMs: 1000, streamBlockMs: 100, now: () => clock });
    expect(store.get('k')).toBeDefined();

    tcp.cut();
    await eventually('the link is down', () => !store.status().connected);
    clock += 500;
    expect(store.get('k')).toBeDefined();
    expect(store.health().ok).toBe(true);
    clock += 1000;
    expect(store.get('k')).toBeUndefined();
    expect(store.health()).toMatchObject({ ok: false, reason: expect.stringContaining('trustMaxStalenessMs 1000') });
    expect(store.status().stale).toBe(true);
    expect(store.list().map((key) => key.id)).toEqual(['k']);

    tcp.restore();
    await eventually('the store is fresh again', () => store.health().ok);
    expect(store.get('k')).toBeDefined();
  });

  it('fails writes with RP_ERR_TRUST_STORE while Redis is unreachable, changing nothing', async () => {
    const prefix = freshPrefix();
    const names = redisTrustKeys(prefix);
    const tcp = await relay();
    const store = await openStore({ prefix, url: tcp.url });
    tcp.cut();
    await eventually('the link is down', () => !store.status().connected);
    await expect(store.add({ id: 'k', publicKey })).rejects.toMatchObject({ code: 'RP_ERR_TRUST_STORE', message: expect.stringContaining('unreachable') });
    await expect(store.remove('k')).rejects.toMatchObject({ code: 'RP_ERR_TRUST_STORE' });
    expect(await raw.hLen(names.keys)).toBe(0);
    expect(await raw.get(names.version)).toBeNull();
  });

  it('start() fails with RP_ERR_TRUST_STORE when Redis cannot be reached, and stop() is idempotent', async () => {
    const tcp = await relay();
    tcp.cut();
    const store = new RedisTrustStore({ url: tcp.url, prefix: freshPrefix(), connectTimeoutMs: 300 });
    await expect(store.start()).rejects.toMatchObject({ code: 'RP_ERR_TRUST_STORE' });
    expect(store.health()).toMatchObject({ ok: false });
    await store.stop();
    await store.stop();
  });

  it('validates its options at construction', () => {
    expect(() => new RedisTrustStore({ url: 'http://127.0.0.1:1' })).toThrow(/url: expected a redis/);
    expect(() => new RedisTrustStore({ url: redis.url, prefix: 'bad prefix' })).toThrow(/prefix/);
    expect(() => new RedisTrustStore({ url: redis.url, trustMaxStalenessMs: 10 })).toThrow(/trustMaxStalenessMs/);
    expect(() => new RedisTrustStore({ url: redis.url, trustMaxStalenessMs: 3000, streamBlockMs: 2000 })).toThrow(/streamBlockMs/);
  });

  // Last: it restarts the server.
  it('keeps every acknowledged change across a SIGKILL and restart of Redis (appendonly), then follows again', async () => {
    const prefix = freshPrefix();
    const a = await openStore({ prefix });
    const b = await openStore({ prefix });
    await a.add({ id: 'before', publicKey });
    await a.add({ id: 'revoked-before', publicKey });
    await a.remove('revoked-before');

    await redis.kill();
    await expect(a.add({ id: 'during', publicKey })).rejects.toMatchObject({ code: 'RP_ERR_TRUST_STORE' });
    expect(b.get('before')).toBeDefined();
    await redis.restart();

    await eventually('both stores are back', () => a.status().connected && b.status().connected);
    expect(a.list().map((key) => key.id)).toEqual(['before']);
    expect(b.list().map((key) => key.id)).toEqual(['before']);
    const removedOnB = nextEvent(b, 'removed', 'before');
    expect(await a.remove('before')).toBe(true);
    await removedOnB;
    expect(b.size).toBe(0);
  });
});
