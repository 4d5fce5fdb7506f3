import { describe, it, expect } from '@jest/globals';
import { MemoryReplayCache } from '../../../src/shared/trust/memory-replay-cache.js';

describe('MemoryReplayCache', () => {
  it('accepts a jti once and refuses it again until it expires', () => {
    const cache = new MemoryReplayCache();
    expect(cache.checkAndRemember('j1', 160, 100)).toBe(true);
    expect(cache.checkAndRemember('j1', 160, 120)).toBe(false);
    expect(cache.remember('j1', 160, 159)).toBe('replay');
    // Once expired the token itself is refused by exp, so remembering it further is useless.
    expect(cache.remember('j1', 220, 160)).toBe('fresh');
  });

  it('prunes expired entries lazily', () => {
    const cache = new MemoryReplayCache();
    cache.remember('a', 110, 100);
    cache.remember('b', 120, 100);
    expect(cache.size).toBe(2);
    cache.remember('c', 200, 115);
    expect(cache.size).toBe(2);
  });

  it('fails closed when full of live entries, and recovers once they expire', () => {
    const cache = new MemoryReplayCache({ maxEntries: 2 });
    expect(cache.remember('a', 200, 100)).toBe('fresh');
    expect(cache.remember('b', 150, 100)).toBe('fresh');
    expect(cache.remember('c', 200, 100)).toBe('full');
    expect(cache.checkAndRemember('c', 200, 100)).toBe(false);
    // `b` expired; a full sweep finds room even though `a` (not expired) is at the head.
    expect(cache.remember('c', 200, 151)).toBe('fresh');
    expect(cache.remember('a', 200, 151)).toBe('replay');
  });

  it('validates maxEntries', () => {
    expect(() => new MemoryReplayCache({ maxEntries: 0 })).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION', message: expect.stringContaining('maxEntries') }));
    expect(() => new MemoryReplayCache({ maxEntries: 1.5 })).toThrow(/maxEntries/);
  });
});

describe('MemoryReplayCache.claim', () => {
  it('resolves fresh once per live jti, on its own clock, and replay until the expiry', async () => {
    let clock = 100_000;
    const cache = new MemoryReplayCache({ now: () => clock });
    await expect(cache.claim('j1', 160_000)).resolves.toBe('fresh');
    await expect(cache.claim('j1', 160_000)).resolves.toBe('replay');
    clock = 160_000;
    await expect(cache.claim('j1', 220_000)).resolves.toBe('fresh');
  });
});
