import { describe, it, expect } from '@jest/globals';
import { RateSampler } from '../../../src/proxy/admin/rate-sampler.js';
import { TrafficStats } from '../../../src/proxy/data-plane/traffic-stats.js';

describe('RateSampler', () => {
  it('turns counter increases into requests per second per rule and per backend', () => {
    let now = 0;
    const stats = new TrafficStats();
    const api1 = stats.pair('/api', 'web1');
    api1.answered(200);
    const sampler = new RateSampler(5, () => stats.pairs(), () => now);
    // Traffic before the sampler started is not part of any rate.
    now = 2000;
    for (let i = 0; i < 10; i += 1) api1.answered(200);
    const api2 = stats.pair('/api', 'web2');
    for (let i = 0; i < 4; i += 1) api2.answered(503);
    const shop = stats.pair('/shop', 'web1');
    shop.answered(0);
    shop.answered(0);
    const first = sampler.sample();
    expect(first).toEqual({ time: 2000, rules: { '/api': 7, '/shop': 1 }, backends: { web1: 6, web2: 2 } });
    now = 4000;
    expect(sampler.sample()).toEqual({ time: 4000, rules: { '/api': 0, '/shop': 0 }, backends: { web1: 0, web2: 0 } });
  });

  it('keeps the last `capacity` samples, oldest first', () => {
    let now = 0;
    const sampler = new RateSampler(3, () => [], () => now);
    for (let i = 1; i <= 5; i += 1) {
      now = i * 1000;
      sampler.sample();
    }
    expect(sampler.list().map((sample) => sample.time)).toEqual([3000, 4000, 5000]);
  });
});
