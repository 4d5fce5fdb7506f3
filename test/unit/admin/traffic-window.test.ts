import { describe, expect, it } from '@jest/globals';
import { histogramQuantileMs, TrafficWindow } from '../../../src/proxy/admin/traffic-window.js';
import { LATENCY_BUCKETS_SECONDS, TrafficStats } from '../../../src/proxy/data-plane/traffic-stats.js';

function buckets(counts: Record<number, number>): number[] {
  const out = new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
  for (const [index, count] of Object.entries(counts)) out[Number(index)] = count;
  return out;
}

describe('histogramQuantileMs', () => {
  it('is undefined without observations', () => {
    expect(histogramQuantileMs(buckets({}), 0.5)).toBeUndefined();
  });

  it('interpolates inside the bucket that holds the quantile', () => {
    // 10 observations in (0.005, 0.01]: the median is halfway, 7.5 ms.
    expect(histogramQuantileMs(buckets({ 1: 10 }), 0.5)).toBeCloseTo(7.5);
    // 99 fast (<= 5 ms) and 1 slow in (1, 2.5]: p50 is fast, p99 at the top of the fast bucket.
    const mixed = buckets({ 0: 99, 8: 1 });
    expect(histogramQuantileMs(mixed, 0.5)).toBeLessThanOrEqual(5);
    expect(histogramQuantileMs(mixed, 0.99)).toBeCloseTo(5);
    expect(histogramQuantileMs(mixed, 1)).toBeCloseTo(2500);
  });

  it('reports a quantile beyond the last bound as the last bound', () => {
    expect(histogramQuantileMs(buckets({ [LATENCY_BUCKETS_SECONDS.length]: 3 }), 0.5)).toBe(10_000);
  });
});

describe('TrafficWindow', () => {
  it('counts since start until the first checkpoint, then only what happened after the oldest one', () => {
    let now = 1_000;
    const stats = new TrafficStats();
    const window = new TrafficWindow(2, () => stats, () => now);
    const pair = stats.pair('/api', 'web');
    pair.answered(500);
    pair.answered(200);
    stats.refusedNoTarget('/api');
    now = 2_000;
    expect(window.summary()).toMatchObject({ windowMs: 1_000, rules: { '/api': { requests: 2, failureRate: 0.5, noTarget: 1 } }, backends: { web: { requests: 2 } }, refused: { NO_TARGET: 1, NO_ROUTE: 0, LOOP_DETECTED: 0, TUNNEL_LIMIT: 0 } });
    window.checkpoint();
    pair.answered(200);
    now = 3_000;
    window.checkpoint();
    now = 4_000;
    // The oldest checkpoint (t=2000) is the base: one 200 since, no failure.
    expect(window.summary()).toMatchObject({ windowMs: 2_000, rules: { '/api': { requests: 1, failureRate: 0, errorRate: 0, noTarget: 0 } } });
    // A third checkpoint pushes the first out (capacity 2): nothing happened after t=3000.
    window.checkpoint();
    expect(window.summary().rules['/api']).toMatchObject({ requests: 0, errorRate: 0, p50Ms: undefined });
  });

  it('counts aborted requests as errors but not as failures of the backend', () => {
    const stats = new TrafficStats();
    const window = new TrafficWindow(10, () => stats);
    const pair = stats.pair('/api', 'web');
    pair.answered(0);
    pair.answered(200);
    expect(window.summary().backends.web).toMatchObject({ requests: 2, classes: { aborted: 1, '2xx': 1 }, errorRate: 0.5, failureRate: 0 });
  });

  it('counts answers cut mid-body (issue 13) in the window as errors and failures of the backend', () => {
    const stats = new TrafficStats();
    const window = new TrafficWindow(10, () => stats);
    const pair = stats.pair('/api', 'web');
    pair.cut();
    pair.answered(200);
    pair.answered(200);
    pair.answered(200);
    expect(window.summary().backends.web).toMatchObject({ requests: 4, classes: { cut: 1, '2xx': 3 }, errorRate: 0.25, failureRate: 0.25 });
    expect(window.summary().rules['/api']).toMatchObject({ requests: 4, failureRate: 0.25 });
  });
});
