import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from 'redis';
import { FleetMembership } from '../../../src/shared/fleet/fleet-membership.js';
import type { FleetNode } from '../../../src/shared/fleet/fleet-node.js';
import { RedisReplayCache } from '../../../src/shared/trust/redis/redis-replay-cache.js';
import { eventually } from '../../helpers/eventually.js';
import { RedisServerFixture } from '../../helpers/redis-server.js';
import { TcpRelay } from '../../helpers/tcp-relay.js';

const PIN = 'sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';
let redis: RedisServerFixture;
let raw: ReturnType<typeof createClient>;
const cleanups: Array<() => Promise<void>> = [];
let prefixCounter = 0;

beforeAll(async () => {
  redis = await RedisServerFixture.start();
  raw = createClient({ url: redis.url });
  raw.on('error', () => undefined);
  await raw.connect();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  raw.destroy();
  await redis.close();
});

function freshPrefix(): string {
  prefixCounter += 1;
  return `r${prefixCounter}:`;
}

async function cache(prefix: string, url = redis.url): Promise<RedisReplayCache> {
  const replay = new RedisReplayCache({ url, prefix });
  cleanups.push(() => replay.stop());
  await replay.start();
  return replay;
}

async function member(prefix: string, id: string, extra: Partial<{ ttlMs: number; refreshMs: number; url: string }> = {}): Promise<FleetMembership> {
  const membership = new FleetMembership({
    url: redis.url,
    prefix,
    ttlMs: 600,
    refreshMs: 100,
    node: { id, addresses: [`wss://127.0.0.1:3042`, 'http://127.0.0.1:3080'], pin: PIN },
    ...extra,
  });
  cleanups.push(() => membership.stop());
  return membership;
}

function nextNode(membership: FleetMembership, event: 'node_added' | 'node_removed', id: string): Promise<FleetNode> {
  return new Promise((resolve) => {
    const listener = (node: FleetNode): void => {
      if (node.id !== id) return;
      membership.off(event, listener);
      resolve(node);
    };
    membership.on(event, listener);
  });
}

describe('RedisReplayCache: a token accepted by one proxy is refused by every other', () => {
  it('claims a jti once across two caches (SET NX), with the token expiry as TTL', async () => {
    const prefix = freshPrefix();
    const a = await cache(prefix);
    const b = await cache(prefix);
    const expiresAt = Date.now() + 60_000;
    expect(await a.claim('WEB001\u0000jti-1', expiresAt)).toBe('fresh');
    expect(await b.claim('WEB001\u0000jti-1', expiresAt)).toBe('replay');
    expect(await a.claim('WEB001\u0000jti-1', expiresAt)).toBe('replay');
    expect(await b.claim('WEB001\u0000jti-2', expiresAt)).toBe('fresh');
    expect(b.stats.replays).toBe(1);
    const keys = await raw.keys(`${prefix}jti:*`);
    expect(keys).toHaveLength(2);
    const ttl = await raw.pTTL(keys[0] as string);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('refuses invalid claims and falls back to its local cache while Redis is unreachable', async () => {
    const prefix = freshPrefix();
    const tcp = await TcpRelay.start(redis.port);
    cleanups.push(() => tcp.close());
    const replay = await cache(prefix, tcp.url);
    expect(await replay.claim('', Date.now() + 1000)).toBe('replay');
    expect(await replay.claim('x'.repeat(600), Date.now() + 1000)).toBe('replay');
    tcp.cut();
    const expiresAt = Date.now() + 60_000;
    await eventually('the claim falls back to the local cache', async () => (await replay.claim(`j-${Date.now()}-${Math.random()}`, expiresAt)) === 'fresh' && replay.stats.localFallbacks > 0);
    expect(await replay.claim('local-1', expiresAt)).toBe('fresh');
    expect(await replay.claim('local-1', expiresAt)).toBe('replay');
  });
});

describe('FleetMembership: proxies announce themselves and see their peers', () => {
  it('emits node_added and node_removed for peers, lists them, and start/stop are idempotent', async () => {
    const prefix = freshPrefix();
    const a = await member(prefix, 'proxy-a');
    const b = await member(prefix, 'proxy-b');
    await a.start();
    await a.start();
    const bSeen = nextNode(a, 'node_added', 'proxy-b');
    await b.start();
    const seen = await bSeen;
    expect(seen).toMatchObject({ id: 'proxy-b', addresses: ['wss://127.0.0.1:3042', 'http://127.0.0.1:3080'], pin: PIN.slice('sha256//'.length) });
    expect(Number.isNaN(Date.parse(seen.startedAt))).toBe(false);
    expect(b.peers().map((node) => node.id)).toEqual(['proxy-a']);
    expect(b.nodes().map((node) => node.id)).toEqual(['proxy-a', 'proxy-b']);

    const bLeft = nextNode(a, 'node_removed', 'proxy-b');
    await b.stop();
    await b.stop();
    await bLeft;
    expect(a.peers()).toEqual([]);
    expect(a.status()).toMatchObject({ connected: true, peers: 0 });
  });

  it('drops a peer that stops refreshing once its TTL expires', async () => {
    const prefix = freshPrefix();
    const tcp = await TcpRelay.start(redis.port);
    cleanups.push(() => tcp.close());
    const a = await member(prefix, 'proxy-a');
    const b = await member(prefix, 'proxy-b', { url: tcp.url });
    await a.start();
    const bSeen = nextNode(a, 'node_added', 'proxy-b');
    await b.start();
    await bSeen;
    const gone = nextNode(a, 'node_removed', 'proxy-b');
    tcp.cut();
    await gone;
    await eventually('b sees its link down', () => !b.status().connected);
    // b keeps its last known list while cut off.
    expect(b.peers().map((node) => node.id)).toEqual(['proxy-a']);
  });

  it('ignores and counts an invalid announcement', async () => {
    const prefix = freshPrefix();
    const a = await member(prefix, 'proxy-a');
    await raw.zAdd(`${prefix}fleet:nodes`, { score: Date.now() + 60_000, value: 'evil' });
    await raw.set(`${prefix}fleet:node:evil`, JSON.stringify({ id: 'evil', addresses: ['file:///etc/passwd'], startedAt: 'now' }), { expiration: { type: 'PX', value: 60_000 } });
    await a.start();
    expect(a.peers()).toEqual([]);
    expect(a.status().rejectedAnnouncements).toBeGreaterThanOrEqual(1);
  });

  it('validates its options at construction', () => {
    expect(() => new FleetMembership({ url: redis.url, node: { id: '../x' } })).toThrow(/fleet.node: id/);
    expect(() => new FleetMembership({ url: redis.url, node: { id: 'a', addresses: ['ftp://x'] } })).toThrow(/addresses/);
    expect(() => new FleetMembership({ url: redis.url, node: { id: 'a', pin: 'nope' } })).toThrow(/pin/);
    expect(() => new FleetMembership({ url: redis.url, node: { id: 'a' }, ttlMs: 1000, refreshMs: 900 })).toThrow(/refreshMs/);
  });
});
