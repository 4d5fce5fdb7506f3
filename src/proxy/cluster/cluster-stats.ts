/**
 * The primary's view of its workers' data planes, summed from their latest reports: one
 * {@link TrafficStats} (what the admin metrics and status page read), client bytes, and a merged
 * {@link DataPlaneSnapshot}. A worker's counters are cumulative in its own process; when it dies its last
 * report is folded into a retired total, so the sums stay monotonic for Prometheus across replacements.
 */
import type { DataPlaneSnapshot, DataPlaneState } from '../data-plane/data-plane.js';
import type { RouteSnapshot } from '../data-plane/routing-state.js';
import { TrafficStats, pairKey } from '../data-plane/traffic-stats.js';
import type { UpstreamSnapshot } from '../data-plane/upstream.js';
import type { WorkerReport } from './worker-report.js';

type Totals = Omit<WorkerReport, 'snapshot' | 'pid' | 'routesUnchanged'>;

const EMPTY: Totals = Object.freeze({ noRoute: 0, noTarget: 0, loops: 0, tunnelLimit: 0, noTargetByRule: [], bytesIn: 0, bytesOut: 0, ejections: [], pairs: [] });

/** Severity of an upstream state when workers disagree: the worst one is shown. */
const SEVERITY = { ready: 0, ejected: 1, unhealthy: 2, draining: 3 } as const;

/** Sums per-worker reports. */
export class ClusterStats {
  /** The summed counters (one object for the lifetime of the primary; its fields are overwritten). */
  readonly traffic = new TrafficStats();
  readonly #latest = new Map<number, WorkerReport>();
  #retired: Totals[] = [];
  #bytesIn = 0;
  #bytesOut = 0;

  /** Stores a worker's latest report and recomputes the sums. */
  update(workerId: number, report: WorkerReport): void {
    const previous = this.#latest.get(workerId);
    // Unchanged routes are not resent: keep the ones of the worker's previous report.
    const routes = report.routesUnchanged ? (previous?.snapshot.routes ?? []) : report.snapshot.routes;
    this.#latest.set(workerId, { ...report, snapshot: { ...report.snapshot, routes } });
    this.#recompute();
  }

  /** Folds a dead worker's last report into the retired totals. */
  retire(workerId: number): void {
    const last = this.#latest.get(workerId);
    if (last === undefined) return;
    this.#latest.delete(workerId);
    this.#retired.push(last);
    // Retired totals are summed once and kept as one record, so they never grow with restarts.
    this.#retired = [sum(this.#retired)];
    this.#recompute();
  }

  /** The latest report per live worker id. */
  reports(): ReadonlyMap<number, WorkerReport> {
    return this.#latest;
  }

  /** Client bytes over every worker, live and retired. */
  clientBytes(): { readonly bytesIn: number; readonly bytesOut: number } {
    return { bytesIn: this.#bytesIn, bytesOut: this.#bytesOut };
  }

  /** Routes and in-flight counts over the live workers (in-flight summed; the worst upstream state shown). */
  snapshot(state: DataPlaneState): DataPlaneSnapshot {
    const routes = new Map<string, { route: RouteSnapshot; upstreams: Map<string, UpstreamSnapshot> }>();
    let inFlight = 0;
    let tunnels = 0;
    for (const report of this.#latest.values()) {
      inFlight += report.snapshot.inFlight;
      tunnels += report.snapshot.tunnels;
      for (const route of report.snapshot.routes) {
        let entry = routes.get(route.rule);
        if (entry === undefined) routes.set(route.rule, (entry = { route, upstreams: new Map() }));
        for (const upstream of route.upstreams) {
          const seen = entry.upstreams.get(upstream.key);
          if (seen === undefined) {
            entry.upstreams.set(upstream.key, upstream);
            continue;
          }
          const worst = SEVERITY[upstream.state] > SEVERITY[seen.state] ? upstream : seen;
          entry.upstreams.set(upstream.key, {
            ...worst,
            inFlight: seen.inFlight + upstream.inFlight,
            consecutiveFailures: Math.max(seen.consecutiveFailures, upstream.consecutiveFailures),
          });
        }
      }
    }
    return {
      state,
      inFlight,
      tunnels,
      routes: [...routes.values()].map(({ route, upstreams }) => ({ ...route, upstreams: [...upstreams.values()] })),
    };
  }

  #recompute(): void {
    // A dead worker's pairs of rules that no live worker routes any more are dropped (every live worker
    // reports every live rule's pair, traffic or not), so retired totals cannot grow with rule churn.
    const live = new Set<string>();
    for (const report of this.#latest.values()) for (const pair of report.pairs) live.add(pairKey(pair.rule, pair.agentId));
    const isLive = (pair: Totals['pairs'][number]): boolean => live.has(pairKey(pair.rule, pair.agentId));
    if (this.#latest.size > 0 && this.#retired.some((retired) => !retired.pairs.every(isLive))) {
      this.#retired = this.#retired.map((retired) => ({ ...retired, pairs: retired.pairs.filter(isLive) }));
    }
    const total = sum([...this.#retired, ...this.#latest.values()]);
    const traffic = this.traffic;
    traffic.noRoute = total.noRoute;
    traffic.noTarget = total.noTarget;
    traffic.loops = total.loops ?? 0;
    traffic.tunnelLimit = total.tunnelLimit ?? 0;
    traffic.noTargetByRule.clear();
    for (const [rule, count] of total.noTargetByRule ?? []) traffic.noTargetByRule.set(rule, count);
    traffic.ejections.clear();
    for (const [agentId, count] of total.ejections) traffic.ejections.set(agentId, count);
    for (const pair of traffic.pairs()) {
      pair.responses.fill(0);
      pair.latencyBuckets.fill(0);
      pair.latencySumSeconds = 0;
      pair.retries = 0;
    }
    const reportedKeys = new Set<string>();
    const reportedAgents = new Set<string>();
    for (const reported of total.pairs) {
      reportedKeys.add(pairKey(reported.rule, reported.agentId));
      reportedAgents.add(reported.agentId);
      const pair = traffic.pair(reported.rule, reported.agentId);
      reported.responses.forEach((count, index) => (pair.responses[index] = count));
      reported.latencyBuckets.forEach((count, index) => (pair.latencyBuckets[index] = count));
      pair.latencySumSeconds = reported.latencySumSeconds;
      pair.retries = reported.retries;
    }
    for (const [agentId] of total.ejections) reportedAgents.add(agentId);
    traffic.retain(reportedKeys, reportedAgents);
    this.#bytesIn = total.bytesIn;
    this.#bytesOut = total.bytesOut;
  }
}

/** Adds reports' counters together (pairs by rule and agent, ejections by agent). */
function sum(reports: readonly Totals[]): Totals {
  if (reports.length === 0) return EMPTY;
  const pairs = new Map<string, { rule: string; agentId: string; responses: number[]; latencyBuckets: number[]; latencySumSeconds: number; retries: number }>();
  const ejections = new Map<string, number>();
  const noTargetByRule = new Map<string, number>();
  let noRoute = 0;
  let noTarget = 0;
  let loops = 0;
  let tunnelLimit = 0;
  let bytesIn = 0;
  let bytesOut = 0;
  for (const report of reports) {
    noRoute += report.noRoute;
    noTarget += report.noTarget;
    loops += report.loops ?? 0;
    tunnelLimit += report.tunnelLimit ?? 0;
    bytesIn += report.bytesIn;
    bytesOut += report.bytesOut;
    for (const [agentId, count] of report.ejections) ejections.set(agentId, (ejections.get(agentId) ?? 0) + count);
    for (const [rule, count] of report.noTargetByRule ?? []) noTargetByRule.set(rule, (noTargetByRule.get(rule) ?? 0) + count);
    for (const pair of report.pairs) {
      const key = pairKey(pair.rule, pair.agentId);
      const into = pairs.get(key);
      if (into === undefined) {
        pairs.set(key, { ...pair, responses: [...pair.responses], latencyBuckets: [...pair.latencyBuckets] });
        continue;
      }
      pair.responses.forEach((count, index) => (into.responses[index] = (into.responses[index] ?? 0) + count));
      pair.latencyBuckets.forEach((count, index) => (into.latencyBuckets[index] = (into.latencyBuckets[index] ?? 0) + count));
      into.latencySumSeconds += pair.latencySumSeconds;
      into.retries += pair.retries;
    }
  }
  return { noRoute, noTarget, loops, tunnelLimit, noTargetByRule: [...noTargetByRule], bytesIn, bytesOut, ejections: [...ejections], pairs: [...pairs.values()] };
}
