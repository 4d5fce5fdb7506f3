import { describe, expect, it } from '@jest/globals';
import { RoundRobinSelector } from '../../../../src/proxy/data-plane/selectors/round-robin.js';
import { picks, pool } from './fixtures.js';

describe('RoundRobinSelector', () => {
  it('rotates exactly over 2 and 3 upstreams', () => {
    expect(picks(new RoundRobinSelector(pool('A', 'B')), 5)).toEqual(['A', 'B', 'A', 'B', 'A']);
    expect(picks(new RoundRobinSelector(pool('A', 'B', 'C')), 6)).toEqual(['A', 'B', 'C', 'A', 'B', 'C']);
  });

  it('returns undefined for an empty pool or when nothing is available', () => {
    expect(new RoundRobinSelector([]).select()).toBeUndefined();
    const upstreams = pool('A', 'B');
    for (const upstream of upstreams) upstream.available = false;
    expect(new RoundRobinSelector(upstreams).select()).toBeUndefined();
  });

  it('skips unavailable (draining or ejected) upstreams', () => {
    const upstreams = pool('A', 'B', 'C');
    upstreams[1]!.available = false;
    expect(picks(new RoundRobinSelector(upstreams), 4)).toEqual(['A', 'C', 'A', 'C']);
  });

  it('never picks the excluded upstream (retry)', () => {
    const upstreams = pool('A', 'B');
    const selector = new RoundRobinSelector(upstreams);
    expect(selector.select(upstreams[0])?.key).toBe('B');
    expect(selector.select(upstreams[0])?.key).toBe('B');
    expect(new RoundRobinSelector(pool('A')).select(undefined)?.key).toBe('A');
    const single = pool('A');
    expect(new RoundRobinSelector(single).select(single[0])).toBeUndefined();
  });

  it('lets a newcomer take its turn without a burst', () => {
    const [a, b, c] = pool('A', 'B', 'C');
    const selector = new RoundRobinSelector([a!, b!]);
    expect(picks(selector, 3)).toEqual(['A', 'B', 'A']);
    selector.update([a!, b!, c!]);
    expect(picks(selector, 6)).toEqual(['B', 'C', 'A', 'B', 'C', 'A']);
  });

  it('continues with the next survivor when the last pick leaves', () => {
    const [a, b, c] = pool('A', 'B', 'C');
    const selector = new RoundRobinSelector([a!, b!, c!]);
    expect(picks(selector, 2)).toEqual(['A', 'B']);
    selector.update([a!, c!]);
    expect(picks(selector, 3)).toEqual(['C', 'A', 'C']);
  });

  it('keeps its place when an unrelated upstream leaves', () => {
    const [a, b, c] = pool('A', 'B', 'C');
    const selector = new RoundRobinSelector([a!, b!, c!]);
    expect(picks(selector, 1)).toEqual(['A']);
    selector.update([a!, c!]);
    expect(picks(selector, 3)).toEqual(['C', 'A', 'C']);
  });
});
