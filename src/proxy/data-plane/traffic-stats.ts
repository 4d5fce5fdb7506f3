/**
 * Traffic counters of the data plane, kept as plain integers so that counting costs a few additions per
 * request: no label hashing, no string building, no prom-client call on the request path. The admin
 * metrics read them at scrape time (`collect()`), and the status page's sampler reads them every few
 * seconds.
 *
 * Cardinality is bounded by construction: one {@link RouteTargetStats} per (rule, agent id) pair, made
 * when the routing table is rebuilt from registered rules and trusted agent ids, never from a request's
 * path or address. A pair lives as long as some registered backend of that agent serves that rule: the
 * rebuild that drops the last one drops the pair ({@link TrafficStats.retain}), so rule churn cannot
 * grow memory, `/metrics` or the status API (issue 14). An agent that re-registers before its old
 * backend is removed (supersede, reconnect) keeps its series; one that comes back later starts again at
 * zero, which Prometheus' `rate()` and `increase()` read as a counter reset.
 */

/** Upper bounds of the upstream latency histogram, in seconds (Prometheus' default buckets). */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/**
 * Index of {@link RouteTargetStats.responses} for requests the client abandoned before the answer was
 * complete (499 in the access log).
 */
export const ABORTED = 0;
/**
 * Index of {@link RouteTargetStats.responses} for answers cut mid-body on the upstream side (a reset, a
 * truncated body, the body timeout): an error, never a 2xx, although the status line had been relayed.
 */
export const CUT = 6;

/**
 * Status class labels by index of {@link RouteTargetStats.responses}. An answer is counted when it ends:
 * by its status class when complete, as `aborted` when the client left first, as `cut` when the
 * upstream side failed after the status line was relayed.
 */
export const STATUS_CLASSES: readonly string[] = Object.freeze(['aborted', '1xx', '2xx', '3xx', '4xx', '5xx', 'cut']);

/** Why the proxy answered a request itself (a metric label). */
export type RejectReason = 'no_route' | 'no_target' | 'loop' | 'tunnel_limit';

/** The map key of a (rule, agent id) pair. */
export function pairKey(rule: string, agentId: string): string {
  return `${rule}\u0000${agentId}`;
}

/** Counters of one (rule, agent id) pair. Fields are incremented in place by the data plane. */
export class RouteTargetStats {
  /** Route key, `/api` or `example.com/api`. */
  readonly rule: string;
  /** The agent (key) id of the backend. */
  readonly agentId: string;
  /** Answers by status class, indexed as {@link STATUS_CLASSES} (`responses[2]` counts 2xx). */
  readonly responses: number[] = [0, 0, 0, 0, 0, 0, 0];
  /** Latency histogram counts per bucket of {@link LATENCY_BUCKETS_SECONDS}, plus one for +Inf. */
  readonly latencyBuckets: number[] = new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
  /** Sum of observed latencies, in seconds. */
  latencySumSeconds = 0;
  /** Requests retried on another upstream after a connect failure on this one. */
  retries = 0;

  constructor(rule: string, agentId: string) {
    this.rule = rule;
    this.agentId = agentId;
  }

  /** Total answers (every status class, aborted included). */
  get total(): number {
    const r = this.responses;
    return (r[0] as number) + (r[1] as number) + (r[2] as number) + (r[3] as number) + (r[4] as number) + (r[5] as number) + (r[6] as number);
  }

  /** Counts an answer with `status` (0 for a request the client abandoned). */
  answered(status: number): void {
    const index = status >= 100 && status < 600 ? (status / 100) | 0 : ABORTED;
    (this.responses[index] as number) += 1;
  }

  /** Counts an answer cut mid-body on the upstream side. */
  cut(): void {
    (this.responses[CUT] as number) += 1;
  }

  /** Records the time from dispatch to the upstream's response headers. */
  observeLatency(seconds: number): void {
    this.latencySumSeconds += seconds;
    let index = 0;
    const bounds = LATENCY_BUCKETS_SECONDS;
    while (index < bounds.length && seconds > (bounds[index] as number)) index += 1;
    (this.latencyBuckets[index] as number) += 1;
  }
}

/** Every traffic counter of one data plane. */
export class TrafficStats {
  /** Requests answered by the proxy itself because no rule matched. */
  noRoute = 0;
  /** Requests answered by the proxy itself because the rule had no available target. */
  noTarget = 0;
  /** Requests and upgrades answered 508 because they already carried this proxy's `Via` entry. */
  loops = 0;
  /** Upgrades answered 503 because their target had `maxTunnelsPerTarget` open tunnels. */
  tunnelLimit = 0;
  /**
   * {@link noTarget} by route key, for the status page. Bounded like the pairs: keys come from registered
   * rules, never from a request.
   */
  readonly noTargetByRule = new Map<string, number>();
  /** Upstreams ejected by passive health, by agent id. */
  readonly ejections = new Map<string, number>();
  /** Bytes read from client connections that have closed (live ones are added at read time). */
  closedBytesIn = 0;
  /** Bytes written to client connections that have closed. */
  closedBytesOut = 0;
  readonly #pairs = new Map<string, RouteTargetStats>();

  /** The counters of a (rule, agent id) pair, made on first use. Called on rebuild, not per request. */
  pair(rule: string, agentId: string): RouteTargetStats {
    const key = pairKey(rule, agentId);
    let stats = this.#pairs.get(key);
    if (stats === undefined) this.#pairs.set(key, (stats = new RouteTargetStats(rule, agentId)));
    return stats;
  }

  /** Every pair seen so far. */
  pairs(): IterableIterator<RouteTargetStats> {
    return this.#pairs.values();
  }

  /** Number of pairs kept. */
  get size(): number {
    return this.#pairs.size;
  }

  /**
   * Drops the pairs whose key is not in `live` and the ejection counts of agents not in `agents`: what
   * belonged to a rule or backend that is gone goes with it. O(pairs), called on rebuild.
   */
  retain(live: ReadonlySet<string>, agents: ReadonlySet<string>): void {
    for (const key of this.#pairs.keys()) if (!live.has(key)) this.#pairs.delete(key);
    for (const agentId of this.ejections.keys()) if (!agents.has(agentId)) this.ejections.delete(agentId);
    const rules = new Set<string>();
    for (const pair of this.#pairs.values()) rules.add(pair.rule);
    for (const rule of this.noTargetByRule.keys()) if (!rules.has(rule)) this.noTargetByRule.delete(rule);
  }

  /** Counts a request refused because the route `rule` had no available target. */
  refusedNoTarget(rule: string): void {
    this.noTarget += 1;
    this.noTargetByRule.set(rule, (this.noTargetByRule.get(rule) ?? 0) + 1);
  }

  /** Counts an ejection of one of the agent's upstreams (rare: a map update is fine). */
  ejected(agentId: string): void {
    this.ejections.set(agentId, (this.ejections.get(agentId) ?? 0) + 1);
  }
}
