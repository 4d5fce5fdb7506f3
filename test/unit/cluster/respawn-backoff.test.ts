import { describe, it, expect } from '@jest/globals';
import { nextFailureCount, respawnDelayMs } from '../../../src/proxy/cluster/respawn-backoff.js';

describe('worker respawn backoff', () => {
  it('doubles from the base with every recent death, up to the maximum', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((failures) => respawnDelayMs(failures, 200, 10_000))).toEqual([200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
  });

  it('never overflows for a long crash loop', () => {
    expect(respawnDelayMs(10_000, 200, 10_000)).toBe(10_000);
  });

  it('counts deaths of short-lived workers and starts again after a stable one', () => {
    expect(nextFailureCount(0, 50, 10_000)).toBe(1);
    expect(nextFailureCount(3, 9_999, 10_000)).toBe(4);
    expect(nextFailureCount(7, 10_000, 10_000)).toBe(1);
  });
});
