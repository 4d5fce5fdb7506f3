import { describe, expect, it } from '@jest/globals';
import { MAX_WHEEL_SIZE, WeightedRoundRobinSelector, buildWheel } from '../../../../src/proxy/data-plane/selectors/weighted-round-robin.js';
import { picks, pool } from './fixtures.js';

describe('WeightedRoundRobinSelector', () => {
  it('builds the smooth sequence (5,1,1 -> A A B A C A A)', () => {
    expect(buildWheel([5, 1, 1])).toEqual([0, 0, 1, 0, 2, 0, 0]);
  });

  it('reduces weights by their greatest common divisor', () => {
    expect(buildWheel([200, 100])).toEqual(buildWheel([2, 1]));
    expect(buildWheel([2, 1])).toHaveLength(3);
  });

  it('bounds the wheel for huge weights', () => {
    const wheel = buildWheel(Array.from({ length: 20 }, (_, index) => 1000 - index));
    expect(wheel.length).toBeLessThanOrEqual(MAX_WHEEL_SIZE + 20);
    expect(new Set(wheel).size).toBe(20);
  });

  it('spreads picks in proportion to weight', () => {
    const upstreams = pool('A', 'B');
    upstreams[0]!.weight = 3;
    const sequence = picks(new WeightedRoundRobinSelector(upstreams), 8);
    expect(sequence.filter((key) => key === 'A')).toHaveLength(6);
    expect(sequence.filter((key) => key === 'B')).toHaveLength(2);
  });

  it('is a plain rotation with equal weights', () => {
    expect(picks(new WeightedRoundRobinSelector(pool('A', 'B', 'C')), 6)).toEqual(['A', 'B', 'C', 'A', 'B', 'C']);
  });

  it('skips unavailable and excluded upstreams', () => {
    const upstreams = pool('A', 'B', 'C');
    upstreams[0]!.available = false;
    const selector = new WeightedRoundRobinSelector(upstreams);
    expect(picks(selector, 4)).toEqual(['B', 'C', 'B', 'C']);
    expect(selector.select(upstreams[1])?.key).toBe('C');
    upstreams[1]!.available = false;
    upstreams[2]!.available = false;
    expect(selector.select()).toBeUndefined();
  });

  it('rebuilds on update', () => {
    const selector = new WeightedRoundRobinSelector(pool());
    expect(selector.select()).toBeUndefined();
    selector.update(pool('X', 'Y'));
    expect(picks(selector, 2).sort()).toEqual(['X', 'Y']);
  });
});
