import { describe, it, expect } from '@jest/globals';
import { ClusterStats } from '../../../src/proxy/cluster/cluster-stats.js';
import type { WorkerReport } from '../../../src/proxy/cluster/worker-report.js';
import type { UpstreamSnapshot } from '../../../src/proxy/data-plane/upstream.js';

function upstream(change: Partial<UpstreamSnapshot> = {}): UpstreamSnapshot {
  return { key: 'W#1|http://127.0.0.1:4000', backendId: 'W#1', agentId: 'W', origin: 'http://127.0.0.1:4000', weight: 1, state: 'ready', inFlight: 0, consecutiveFailures: 0, ejectedUntil: undefined, lastError: undefined, ...change };
}

function report(pid: number, ok: number, change: Partial<WorkerReport> = {}, up: Partial<UpstreamSnapshot> = {}): WorkerReport {
  return {
    pid,
    routesUnchanged: false,
    noRoute: 1,
    noTarget: 0,
    bytesIn: 100,
    bytesOut: 200,
    ejections: [['W', 1]],
    pairs: [{ rule: '/api', agentId: 'W', responses: [0, 0, ok, 0, 0, 0, 0], latencyBuckets: [ok, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], latencySumSeconds: ok / 1000, retries: 1 }],
    snapshot: { state: 'running', inFlight: up.inFlight ?? 0, tunnels: 0, routes: [{ rule: '/api', path: '/api', host: undefined, upstreams: [upstream(up)] }] },
    ...change,
  };
}

describe('ClusterStats', () => {
  it('sums the latest report of each worker into one TrafficStats', () => {
    const stats = new ClusterStats();
    stats.update(1, report(11, 5));
    stats.update(2, report(12, 7));
    stats.update(1, report(11, 6));
    const [pair] = [...stats.traffic.pairs()];
    expect(pair!.responses).toEqual([0, 0, 13, 0, 0, 0, 0]);
    expect(pair!.latencyBuckets[0]).toBe(13);
    expect(pair!.latencySumSeconds).toBeCloseTo(0.013);
    expect(pair!.retries).toBe(2);
    expect(stats.traffic.noRoute).toBe(2);
    expect(stats.traffic.ejections.get('W')).toBe(2);
    expect(stats.clientBytes()).toEqual({ bytesIn: 200, bytesOut: 400 });
  });

  it('keeps a dead worker\'s counts after retiring it, so totals stay monotonic', () => {
    const stats = new ClusterStats();
    stats.update(1, report(11, 5));
    stats.update(2, report(12, 7));
    stats.retire(1);
    stats.update(3, report(13, 1));
    expect([...stats.traffic.pairs()][0]!.responses[2]).toBe(13);
    expect([...stats.reports().keys()]).toEqual([2, 3]);
    stats.retire(2);
    stats.retire(3);
    expect([...stats.traffic.pairs()][0]!.responses[2]).toBe(13);
  });

  it('merges routes: in-flight summed, the worst upstream state shown', () => {
    const stats = new ClusterStats();
    stats.update(1, report(11, 0, {}, { inFlight: 2 }));
    stats.update(2, report(12, 0, {}, { inFlight: 3, state: 'ejected', consecutiveFailures: 3 }));
    const snapshot = stats.snapshot('running');
    expect(snapshot.inFlight).toBe(5);
    expect(snapshot.routes).toHaveLength(1);
    expect(snapshot.routes[0]!.upstreams).toEqual([upstream({ inFlight: 5, state: 'ejected', consecutiveFailures: 3 })]);
  });

  it('keeps a worker\'s previous routes when its report says they are unchanged', () => {
    const stats = new ClusterStats();
    stats.update(1, report(11, 1, {}, { inFlight: 2 }));
    const unchanged = report(11, 2, { routesUnchanged: true });
    stats.update(1, { ...unchanged, snapshot: { ...unchanged.snapshot, routes: [] } });
    expect(stats.snapshot('running').routes[0]!.upstreams).toEqual([upstream({ inFlight: 2 })]);
    expect([...stats.traffic.pairs()][0]!.responses[2]).toBe(2);
  });

  it('drops pairs no live worker reports any more, retired ones included (issue 14: state is freed)', () => {
    const stats = new ClusterStats();
    const churned = (rule: string): WorkerReport['pairs'] => [{ rule, agentId: 'W', responses: [0, 0, 1, 0, 0, 0], latencyBuckets: new Array<number>(12).fill(0), latencySumSeconds: 0, retries: 0 }];
    stats.update(1, report(11, 1, { pairs: churned('/old'), loops: 2, tunnelLimit: 1 }));
    stats.retire(1);
    for (let round = 0; round < 50; round += 1) stats.update(2, report(12, 1, { pairs: churned(`/r${round}`) }));
    expect([...stats.traffic.pairs()].map((pair) => pair.rule)).toEqual(['/r49']);
    expect(stats.traffic.loops).toBe(2);
    expect(stats.traffic.tunnelLimit).toBe(1);
  });

  it('sums the per-rule NO_TARGET refusals of the workers (and accepts reports without them), freeing a rule that is gone', () => {
    const stats = new ClusterStats();
    stats.update(1, report(11, 1, { noTarget: 2, noTargetByRule: [['/api', 2]] }));
    stats.update(2, report(12, 1, { noTarget: 3, noTargetByRule: [['/api', 1], ['/gone', 2]] }));
    stats.update(3, report(13, 1));
    expect(stats.traffic.noTarget).toBe(5);
    // '/gone' has no pair in any report: its rule left the table, and its per-rule count goes with it.
    expect([...stats.traffic.noTargetByRule]).toEqual([['/api', 3]]);
  });

  it('reports no routes before any worker reported', () => {
    expect(new ClusterStats().snapshot('starting')).toEqual({ state: 'starting', inFlight: 0, tunnels: 0, routes: [] });
  });
});
