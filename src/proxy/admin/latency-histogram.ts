/**
 * A Prometheus histogram whose buckets are read at scrape time from the data plane's plain counters.
 * prom-client's own `observe()` hashes the label set on every call; on the request path that is the
 * most expensive thing a metric could do, so the data plane counts into arrays instead
 * ({@link RouteTargetStats.observeLatency}) and this class only formats them.
 */
import { Histogram, type MetricObjectWithValues, type MetricValueWithName, type Registry } from 'prom-client';
import { LATENCY_BUCKETS_SECONDS, type RouteTargetStats } from '../data-plane/traffic-stats.js';

type Values = MetricObjectWithValues<MetricValueWithName<'rule' | 'le'>>;

/** Per-rule latency histogram over the data plane's (rule, agent) counters. */
export class LatencyHistogram extends Histogram<'rule'> {
  readonly #pairs: () => Iterable<RouteTargetStats>;
  readonly #name: string;
  readonly #help: string;

  constructor(name: string, help: string, registry: Registry, pairs: () => Iterable<RouteTargetStats>) {
    super({ name, help, labelNames: ['rule'], buckets: [...LATENCY_BUCKETS_SECONDS], registers: [registry] });
    this.#name = name;
    this.#help = help;
    this.#pairs = pairs;
  }

  /** The cumulative buckets, sum and count of every rule, summed over its agents. */
  override get(): Promise<Values> {
    const byRule = new Map<string, { buckets: number[]; sum: number }>();
    for (const pair of this.#pairs()) {
      let entry = byRule.get(pair.rule);
      if (entry === undefined) byRule.set(pair.rule, (entry = { buckets: new Array<number>(pair.latencyBuckets.length).fill(0), sum: 0 }));
      for (let index = 0; index < pair.latencyBuckets.length; index += 1) {
        (entry.buckets[index] as number) += pair.latencyBuckets[index] as number;
      }
      entry.sum += pair.latencySumSeconds;
    }
    const values: MetricValueWithName<'rule' | 'le'>[] = [];
    for (const [rule, { buckets, sum }] of byRule) {
      let cumulative = 0;
      for (let index = 0; index < buckets.length; index += 1) {
        cumulative += buckets[index] as number;
        const le = index < LATENCY_BUCKETS_SECONDS.length ? (LATENCY_BUCKETS_SECONDS[index] as number) : '+Inf';
        values.push({ metricName: `${this.#name}_bucket`, labels: { rule, le }, value: cumulative });
      }
      values.push({ metricName: `${this.#name}_sum`, labels: { rule }, value: sum });
      values.push({ metricName: `${this.#name}_count`, labels: { rule }, value: cumulative });
    }
    const metric = { name: this.#name, help: this.#help, type: 'histogram', aggregator: 'sum', values };
    // prom-client's typings declare `type` as a numeric enum; at run time (and in the registry) it is
    // the string, so the object is built as the registry reads it.
    return Promise.resolve(metric as unknown as Values);
  }

  /** The registry prefers this method when formatting text; both read the same counters. */
  getForPromString(): Promise<Values> {
    return this.get();
  }
}
