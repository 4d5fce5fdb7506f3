import { describe, expect, it } from '@jest/globals';
import { hashString, mix32, rendezvousPick, type HashedUpstream } from '../../../src/proxy/data-plane/rendezvous-hash.js';

interface Fixture extends HashedUpstream {
  readonly name: string;
  available: boolean;
}

function upstream(name: string): Fixture {
  return { name, available: true, identityHash: mix32(hashString(`${name}|http://127.0.0.1:80`)) };
}

const KEYS = Array.from({ length: 5000 }, (_, index) => mix32(hashString(`10.0.${index >> 8}.${index & 255}`)));

function assignment(upstreams: readonly Fixture[]): string[] {
  return KEYS.map((key) => rendezvousPick(upstreams, key)?.name ?? '-');
}

describe('rendezvous hashing (hash affinity)', () => {
  const five = ['A', 'B', 'C', 'D', 'E'].map(upstream);

  it('spreads keys over every upstream, each getting a fair share', () => {
    const counts = new Map<string, number>();
    for (const name of assignment(five)) counts.set(name, (counts.get(name) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(['A', 'B', 'C', 'D', 'E']);
    // 1000 expected each; a pseudo-random spread stays well within +-25 %.
    for (const count of counts.values()) expect(Math.abs(count - 1000)).toBeLessThan(250);
  });

  it('removing an upstream moves only the keys it had', () => {
    const before = assignment(five);
    const after = assignment(five.filter((item) => item.name !== 'C'));
    for (let index = 0; index < KEYS.length; index += 1) {
      if (before[index] !== 'C') expect(after[index]).toBe(before[index]);
      else expect(after[index]).not.toBe('C');
    }
  });

  it('adding an upstream moves only the keys it takes (about 1/n of them)', () => {
    const before = assignment(five);
    const after = assignment([...five, upstream('F')]);
    let moved = 0;
    for (let index = 0; index < KEYS.length; index += 1) {
      if (after[index] === before[index]) continue;
      expect(after[index]).toBe('F');
      moved += 1;
    }
    expect(moved).toBeGreaterThan(KEYS.length / 6 - 250);
    expect(moved).toBeLessThan(KEYS.length / 6 + 250);
  });

  it('an unavailable upstream hands its keys to others and gets them back when available again', () => {
    const before = assignment(five);
    five[1]!.available = false;
    const during = assignment(five);
    five[1]!.available = true;
    for (let index = 0; index < KEYS.length; index += 1) {
      if (before[index] === 'B') expect(during[index]).not.toBe('B');
      else expect(during[index]).toBe(before[index]);
    }
    expect(assignment(five)).toEqual(before);
  });

  it('never picks the excluded upstream and returns undefined when nothing is available', () => {
    const key = KEYS[0]!;
    const first = rendezvousPick(five, key)!;
    expect(rendezvousPick(five, key, first)).not.toBe(first);
    expect(rendezvousPick(five.map((item) => ({ ...item, available: false })), key)).toBeUndefined();
  });
});
