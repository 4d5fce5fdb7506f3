import { describe, expect, it } from '@jest/globals';
import { LeastInFlightSelector } from '../../../../src/proxy/data-plane/selectors/least-in-flight.js';
import { picks, pool } from './fixtures.js';

describe('LeastInFlightSelector', () => {
  it('picks the upstream with the fewest requests in flight', () => {
    const upstreams = pool('A', 'B', 'C');
    upstreams[0]!.inFlight = 5;
    upstreams[1]!.inFlight = 1;
    upstreams[2]!.inFlight = 3;
    expect(picks(new LeastInFlightSelector(upstreams), 3)).toEqual(['B', 'B', 'B']);
  });

  it('rotates among idle upstreams instead of always taking the first', () => {
    expect(picks(new LeastInFlightSelector(pool('A', 'B', 'C')), 6)).toEqual(['A', 'B', 'C', 'A', 'B', 'C']);
  });

  it('skips unavailable and excluded upstreams', () => {
    const upstreams = pool('A', 'B', 'C');
    upstreams[1]!.available = false;
    upstreams[2]!.inFlight = 9;
    const selector = new LeastInFlightSelector(upstreams);
    expect(selector.select()?.key).toBe('A');
    expect(selector.select(upstreams[0])?.key).toBe('C');
  });

  it('returns undefined when nothing is available and follows updates', () => {
    const selector = new LeastInFlightSelector(pool());
    expect(selector.select()).toBeUndefined();
    selector.update(pool('Z'));
    expect(selector.select()?.key).toBe('Z');
  });
});

describe('LeastInFlightSelector on large routes (power of two choices)', () => {
  it('takes the less loaded of two random picks', () => {
    const upstreams = pool(...Array.from({ length: 40 }, (_, index) => `U${index}`));
    upstreams.forEach((upstream, index) => (upstream.inFlight = index));
    // Probes land on index 30, then index 10: U10 is less loaded.
    const draws = [30 / 40, 10 / 40];
    const selector = new LeastInFlightSelector(upstreams, () => draws.shift() ?? 0);
    expect(selector.select()?.key).toBe('U10');
  });

  it('falls back to a scan when probes keep hitting unavailable upstreams', () => {
    const upstreams = pool(...Array.from({ length: 40 }, (_, index) => `U${index}`));
    for (const upstream of upstreams) upstream.available = false;
    upstreams[37]!.available = true;
    const selector = new LeastInFlightSelector(upstreams, () => 0);
    expect(selector.select()?.key).toBe('U37');
    upstreams[37]!.available = false;
    expect(selector.select()).toBeUndefined();
  });
});
