/**
 * Recent traffic health for the status page: per rule and per backend (agent id), the answers by status
 * class, the error rates and the p50/p99 upstream latency over the last minutes, plus the requests the
 * proxy refused itself (403 NO_ROUTE / NO_TARGET). "Recent" matters: a backend that failed an hour ago
 * and recovered must not stay red, so every figure is the difference between the data plane's monotonic
 * counters now and a checkpoint taken up to `capacity` ticks ago (until the first checkpoint, since
 * start). It owns no timer: the admin listener calls {@link TrafficWindow.checkpoint} from its own.
 */
import { LATENCY_BUCKETS_SECONDS, STATUS_CLASSES, type RouteTargetStats, type TrafficStats } from '../data-plane/traffic-stats.js';

/** Status classes that are not errors; every other class (4xx, 5xx, aborted, cut...) counts as one. */
const SUCCESS_CLASSES: ReadonlySet<string> = new Set(['1xx', '2xx', '3xx']);
/** Classes that are the backend's (or the path to it) failing, not the client's doing. */
const FAILURE_CLASSES: ReadonlySet<string> = new Set(['5xx', 'cut']);

/** Figures of one rule or one backend over the window. */
export interface TrafficFigures {
  /** Answers of every class (aborted included). */
  readonly requests: number;
  /** Answers by status class label (`2xx`, `4xx`, `5xx`, `aborted`, and `cut` where counted). */
  readonly classes: Readonly<Record<string, number>>;
  /** Share of answers that were not 1xx-3xx (4xx, 5xx, cut, aborted), 0 to 1; 0 without requests. */
  readonly errorRate: number;
  /** Share of answers that were 5xx or cut: the backend failing, 0 to 1. */
  readonly failureRate: number;
  /** Median upstream latency in milliseconds (estimated within its histogram bucket); undefined without data. */
  readonly p50Ms: number | undefined;
  /** 99th percentile upstream latency in milliseconds; undefined without data. */
  readonly p99Ms: number | undefined;
}

/** Figures of one rule: also the requests refused because it had no available target. */
export interface RuleTrafficFigures extends TrafficFigures {
  /** 403 NO_TARGET answers (or `noTargetStatus`) for this rule over the window. */
  readonly noTarget: number;
}

/** The whole summary, as `/api/status` serves it under `traffic`. */
export interface TrafficSummary {
  /** Length of the window in milliseconds (since start until the window is full). */
  readonly windowMs: number;
  readonly rules: Readonly<Record<string, RuleTrafficFigures>>;
  readonly backends: Readonly<Record<string, TrafficFigures>>;
  /**
   * Requests the proxy answered itself, by reason, over the window: no rule matched, no available target
   * (403 by default), a forwarding loop (508), the tunnels-per-target limit (503).
   */
  readonly refused: { readonly NO_ROUTE: number; readonly NO_TARGET: number; readonly LOOP_DETECTED: number; readonly TUNNEL_LIMIT: number };
}

interface PairCounts {
  readonly responses: readonly number[];
  readonly latencyBuckets: readonly number[];
}

interface Checkpoint {
  readonly time: number;
  readonly pairs: Map<RouteTargetStats, PairCounts>;
  readonly noRoute: number;
  readonly noTarget: number;
  readonly loops: number;
  readonly tunnelLimit: number;
  readonly noTargetByRule: Map<string, number>;
}

interface Accumulator {
  readonly responses: number[];
  readonly latencyBuckets: number[];
}

function accumulator(): Accumulator {
  return { responses: new Array<number>(STATUS_CLASSES.length).fill(0), latencyBuckets: new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0) };
}

/**
 * Estimates the `q` quantile of a bucketed histogram (counts per bucket of
 * {@link LATENCY_BUCKETS_SECONDS}, plus +Inf) in milliseconds, by linear interpolation inside the bucket
 * that holds it, as Prometheus' `histogram_quantile` does. A quantile in the +Inf bucket is reported as
 * the highest finite bound.
 */
export function histogramQuantileMs(buckets: readonly number[], q: number): number | undefined {
  const total = buckets.reduce((sum, count) => sum + count, 0);
  if (total === 0) return undefined;
  const rank = q * total;
  let cumulative = 0;
  const bounds = LATENCY_BUCKETS_SECONDS;
  for (let index = 0; index < buckets.length; index += 1) {
    const count = buckets[index] as number;
    if (count === 0 || cumulative + count < rank) {
      cumulative += count;
      continue;
    }
    if (index >= bounds.length) return (bounds[bounds.length - 1] as number) * 1000;
    const lower = index === 0 ? 0 : (bounds[index - 1] as number);
    const upper = bounds[index] as number;
    return (lower + ((upper - lower) * (rank - cumulative)) / count) * 1000;
  }
  return (bounds[bounds.length - 1] as number) * 1000;
}

function figures(counts: Accumulator): TrafficFigures {
  const classes: Record<string, number> = {};
  let requests = 0;
  let errors = 0;
  let failures = 0;
  STATUS_CLASSES.forEach((label, index) => {
    const count = Math.max(0, counts.responses[index] ?? 0);
    classes[label] = count;
    requests += count;
    if (!SUCCESS_CLASSES.has(label)) errors += count;
    if (FAILURE_CLASSES.has(label)) failures += count;
  });
  return {
    requests,
    classes,
    errorRate: requests === 0 ? 0 : errors / requests,
    failureRate: requests === 0 ? 0 : failures / requests,
    p50Ms: histogramQuantileMs(counts.latencyBuckets, 0.5),
    p99Ms: histogramQuantileMs(counts.latencyBuckets, 0.99),
  };
}

function add(into: Accumulator, now: readonly number[], then: readonly number[] | undefined, field: 'responses' | 'latencyBuckets'): void {
  const target = into[field];
  for (let index = 0; index < target.length; index += 1) (target[index] as number) += (now[index] ?? 0) - (then?.[index] ?? 0);
}

/** Checkpoints of the traffic counters and the summary over the window they span. */
export class TrafficWindow {
  readonly #capacity: number;
  readonly #stats: () => TrafficStats;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #checkpoints: Checkpoint[] = [];

  /**
   * @param capacity checkpoints kept (the window spans `capacity` ticks).
   * @param stats the data plane's counters.
   * @param now clock in epoch ms (tests).
   */
  constructor(capacity: number, stats: () => TrafficStats, now: () => number = Date.now) {
    this.#capacity = capacity;
    this.#stats = stats;
    this.#now = now;
    this.#startedAt = now();
  }

  /** Records the counters as they are now. */
  checkpoint(): void {
    const stats = this.#stats();
    const pairs = new Map<RouteTargetStats, PairCounts>();
    for (const pair of stats.pairs()) pairs.set(pair, { responses: pair.responses.slice(), latencyBuckets: pair.latencyBuckets.slice() });
    this.#checkpoints.push({ time: this.#now(), pairs, noRoute: stats.noRoute, noTarget: stats.noTarget, loops: stats.loops, tunnelLimit: stats.tunnelLimit, noTargetByRule: new Map(stats.noTargetByRule) });
    if (this.#checkpoints.length > this.#capacity) this.#checkpoints.shift();
  }

  /** The figures between the oldest checkpoint (or the start) and now. */
  summary(): TrafficSummary {
    const stats = this.#stats();
    const base = this.#checkpoints[0];
    const byRule = new Map<string, Accumulator>();
    const byBackend = new Map<string, Accumulator>();
    for (const pair of stats.pairs()) {
      const then = base?.pairs.get(pair);
      for (const [map, key] of [[byRule, pair.rule], [byBackend, pair.agentId]] as const) {
        let into = map.get(key);
        if (into === undefined) map.set(key, (into = accumulator()));
        add(into, pair.responses, then?.responses, 'responses');
        add(into, pair.latencyBuckets, then?.latencyBuckets, 'latencyBuckets');
      }
    }
    const rules: Record<string, RuleTrafficFigures> = {};
    for (const [rule, counts] of byRule) {
      rules[rule] = { ...figures(counts), noTarget: (stats.noTargetByRule.get(rule) ?? 0) - (base?.noTargetByRule.get(rule) ?? 0) };
    }
    // A rule refused for lack of targets may have no pair at all (no backend ever served it).
    for (const [rule, count] of stats.noTargetByRule) {
      if (rules[rule] === undefined) rules[rule] = { ...figures(accumulator()), noTarget: count - (base?.noTargetByRule.get(rule) ?? 0) };
    }
    const backends: Record<string, TrafficFigures> = {};
    for (const [agentId, counts] of byBackend) backends[agentId] = figures(counts);
    return {
      windowMs: this.#now() - (base?.time ?? this.#startedAt),
      rules,
      backends,
      refused: {
        NO_ROUTE: stats.noRoute - (base?.noRoute ?? 0),
        NO_TARGET: stats.noTarget - (base?.noTarget ?? 0),
        LOOP_DETECTED: stats.loops - (base?.loops ?? 0),
        TUNNEL_LIMIT: stats.tunnelLimit - (base?.tunnelLimit ?? 0),
      },
    };
  }
}
