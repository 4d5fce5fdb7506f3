import { describe, it, expect } from '@jest/globals';
import { LATENCY_BUCKETS_SECONDS, STATUS_CLASSES, TrafficStats } from '../../../src/proxy/data-plane/traffic-stats.js';

describe('TrafficStats', () => {
  it('returns the same counters for the same (rule, agent) pair', () => {
    const stats = new TrafficStats();
    expect(stats.pair('/api', 'a')).toBe(stats.pair('/api', 'a'));
    expect(stats.pair('/api', 'a')).not.toBe(stats.pair('/api', 'b'));
    expect([...stats.pairs()]).toHaveLength(2);
  });

  it('counts answers by status class, unknown statuses as aborted', () => {
    const pair = new TrafficStats().pair('/api', 'a');
    for (const status of [200, 204, 301, 404, 503, 101, 0, 600, 99]) pair.answered(status);
    expect(Object.fromEntries(STATUS_CLASSES.map((name, index) => [name, pair.responses[index]]))).toEqual({
      aborted: 3,
      '1xx': 1,
      '2xx': 2,
      '3xx': 1,
      '4xx': 1,
      '5xx': 1,
      cut: 0,
    });
    expect(pair.total).toBe(9);
    pair.cut();
    expect(pair.responses[6]).toBe(1);
    expect(pair.total).toBe(10);
  });

  it('puts latencies in the first bucket whose bound is not below them (le semantics), the rest in +Inf', () => {
    const pair = new TrafficStats().pair('/api', 'a');
    pair.observeLatency(0.005);
    pair.observeLatency(0.0051);
    pair.observeLatency(10);
    pair.observeLatency(11);
    expect(pair.latencyBuckets[0]).toBe(1);
    expect(pair.latencyBuckets[1]).toBe(1);
    expect(pair.latencyBuckets[LATENCY_BUCKETS_SECONDS.length - 1]).toBe(1);
    expect(pair.latencyBuckets[LATENCY_BUCKETS_SECONDS.length]).toBe(1);
    expect(pair.latencySumSeconds).toBeCloseTo(21.0101, 6);
  });

  it('counts ejections per agent', () => {
    const stats = new TrafficStats();
    stats.ejected('a');
    stats.ejected('a');
    stats.ejected('b');
    expect(Object.fromEntries(stats.ejections)).toEqual({ a: 2, b: 1 });
  });
});
