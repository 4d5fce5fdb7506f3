/**
 * Request rates over the last minutes, for the status page's chart: every interval the sampler reads
 * the data plane's monotonic counters, turns the increase into requests per second per rule and per
 * backend (agent id), and keeps the last N samples in a ring buffer. It owns no timer: the admin
 * listener calls {@link RateSampler.sample} from its own, started and stopped with it.
 */
import type { RouteTargetStats } from '../data-plane/traffic-stats.js';

/** One sample: requests per second over the interval that ended at `time`. */
export interface RateSample {
  /** Epoch milliseconds at the end of the interval. */
  readonly time: number;
  /** Requests per second by rule. */
  readonly rules: Readonly<Record<string, number>>;
  /** Requests per second by backend (agent id). */
  readonly backends: Readonly<Record<string, number>>;
}

/** A ring buffer of {@link RateSample}s. */
export class RateSampler {
  readonly #capacity: number;
  readonly #pairs: () => Iterable<RouteTargetStats>;
  readonly #now: () => number;
  readonly #samples: RateSample[] = [];
  /** Last totals, of the pairs seen in the last sample only: a pair that is gone is forgotten. */
  #previous = new Map<RouteTargetStats, number>();
  #previousTime: number;

  /**
   * @param capacity samples kept.
   * @param pairs the data plane's counters.
   * @param now clock in epoch ms (tests).
   */
  constructor(capacity: number, pairs: () => Iterable<RouteTargetStats>, now: () => number = Date.now) {
    this.#capacity = capacity;
    this.#pairs = pairs;
    this.#now = now;
    this.#previousTime = now();
    // Traffic before the first sample is not a rate over any interval: start from the current totals.
    for (const pair of pairs()) this.#previous.set(pair, pair.total);
  }

  /** Takes a sample now; returns it. */
  sample(): RateSample {
    const time = this.#now();
    const seconds = Math.max((time - this.#previousTime) / 1000, 0.001);
    this.#previousTime = time;
    const rules: Record<string, number> = {};
    const backends: Record<string, number> = {};
    const previous = this.#previous;
    const next = new Map<RouteTargetStats, number>();
    for (const pair of this.#pairs()) {
      const total = pair.total;
      const delta = total - (previous.get(pair) ?? 0);
      next.set(pair, total);
      const rate = delta / seconds;
      rules[pair.rule] = (rules[pair.rule] ?? 0) + rate;
      backends[pair.agentId] = (backends[pair.agentId] ?? 0) + rate;
    }
    this.#previous = next;
    const sample = Object.freeze({ time, rules, backends });
    this.#samples.push(sample);
    if (this.#samples.length > this.#capacity) this.#samples.shift();
    return sample;
  }

  /** The samples, oldest first. */
  list(): readonly RateSample[] {
    return this.#samples.slice();
  }
}
