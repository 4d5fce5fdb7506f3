/** Options and state added by issue 14: proxy id, tunnel cap, access log query, freed counters. */
import { describe, expect, it } from '@jest/globals';
import { RateSampler } from '../../../src/proxy/admin/rate-sampler.js';
import { DEFAULT_MAX_TUNNELS_PER_TARGET, generateProxyId, resolveDataPlaneOptions } from '../../../src/proxy/data-plane/data-plane-options.js';
import { TrafficStats, pairKey } from '../../../src/proxy/data-plane/traffic-stats.js';

describe('data-plane options of issue 14', () => {
  it('defaults: a random proxy id per options object, 1024 tunnels per target, no access log', () => {
    const first = resolveDataPlaneOptions();
    const second = resolveDataPlaneOptions();
    expect(first.proxyId).toMatch(/^inteli-[0-9a-f]{12}$/);
    expect(first.proxyId).not.toBe(second.proxyId);
    expect(generateProxyId()).toMatch(/^inteli-[0-9a-f]{12}$/);
    expect(first.maxTunnelsPerTarget).toBe(DEFAULT_MAX_TUNNELS_PER_TARGET);
    expect(first).toMatchObject({ accessLog: false, accessLogQuery: false });
  });

  it('accepts accessLog true or { query }, and a proxy id that is one Via token', () => {
    expect(resolveDataPlaneOptions({ accessLog: true })).toMatchObject({ accessLog: true, accessLogQuery: false });
    expect(resolveDataPlaneOptions({ accessLog: { query: true } })).toMatchObject({ accessLog: true, accessLogQuery: true });
    expect(resolveDataPlaneOptions({ proxyId: 'edge-1' }).proxyId).toBe('edge-1');
  });

  it.each([
    [{ accessLog: 'yes' }, /accessLog must be a boolean or \{ query\?: boolean \}/],
    [{ accessLog: { query: 1 } }, /accessLog must be/],
    [{ accessLog: { path: true } }, /accessLog must be/],
    [{ proxyId: 'two words' }, /proxyId must match/],
    [{ proxyId: 'a,b' }, /proxyId must match/],
    [{ maxTunnelsPerTarget: 0 }, /maxTunnelsPerTarget must be an integer from 1/],
  ])('refuses %j', (options, message) => {
    expect(() => resolveDataPlaneOptions(options as never)).toThrow(message);
  });
});

describe('state freed with its rule (issue 14)', () => {
  it('TrafficStats.retain drops pairs and ejection counts of what is gone', () => {
    const stats = new TrafficStats();
    stats.pair('/a', 'web1');
    stats.pair('/b', 'web1');
    stats.pair('/a', 'web2');
    stats.ejected('web2');
    stats.retain(new Set([pairKey('/a', 'web1')]), new Set(['web1']));
    expect([...stats.pairs()].map((pair) => `${pair.rule} ${pair.agentId}`)).toEqual(['/a web1']);
    expect(stats.size).toBe(1);
    expect(stats.ejections.size).toBe(0);
  });

  it('RateSampler forgets the totals of pairs that are gone', () => {
    let now = 0;
    const stats = new TrafficStats();
    const sampler = new RateSampler(3, () => stats.pairs(), () => now);
    for (let round = 0; round < 100; round += 1) {
      stats.retain(new Set(), new Set());
      stats.pair(`/r${round}`, 'web').answered(200);
      now += 1000;
      const sample = sampler.sample();
      expect(Object.keys(sample.rules)).toEqual([`/r${round}`]);
    }
  });
});
