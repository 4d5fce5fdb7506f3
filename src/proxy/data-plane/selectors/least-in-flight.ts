/**
 * Least in flight: the available upstream with the fewest requests and tunnels in flight. Small routes
 * (up to {@link FULL_SCAN_LIMIT} upstreams) are scanned in full and ties rotate (the scan starts one
 * further each time), so idle upstreams share the load instead of the first one taking everything. Larger
 * routes use the power of two choices (Envoy's LEAST_REQUEST): the less loaded of two random available
 * upstreams, which keeps a pick O(1) however many upstreams the route has.
 */
import type { ProxySelector, SelectableUpstream } from './proxy-selector.js';

/** Routes up to this size are scanned in full. */
export const FULL_SCAN_LIMIT = 16;
/** Random probes for an available upstream before falling back to a scan. */
const PROBES = 8;

/** Picks the least loaded upstream. */
export class LeastInFlightSelector<U extends SelectableUpstream> implements ProxySelector<U> {
  #upstreams: readonly U[];
  #start = 0;
  readonly #random: () => number;

  /** @param random source of randomness in [0, 1) for large routes (injectable for tests). */
  constructor(upstreams: readonly U[], random: () => number = Math.random) {
    this.#upstreams = upstreams;
    this.#random = random;
  }

  select(exclude?: U): U | undefined {
    const count = this.#upstreams.length;
    if (count === 0) return undefined;
    if (count > FULL_SCAN_LIMIT) {
      const first = this.#probe(exclude);
      const second = this.#probe(exclude);
      if (first !== undefined && second !== undefined) return second.inFlight < first.inFlight ? second : first;
      if (first !== undefined || second !== undefined) return first ?? second;
    }
    return this.#scan(exclude);
  }

  update(upstreams: readonly U[]): void {
    this.#upstreams = upstreams;
  }

  #probe(exclude: U | undefined): U | undefined {
    const upstreams = this.#upstreams;
    for (let attempt = 0; attempt < PROBES; attempt += 1) {
      const upstream = upstreams[Math.floor(this.#random() * upstreams.length)] as U;
      if (upstream.available && upstream !== exclude) return upstream;
    }
    return undefined;
  }

  #scan(exclude: U | undefined): U | undefined {
    const upstreams = this.#upstreams;
    const count = upstreams.length;
    const start = this.#start >= count ? 0 : this.#start;
    this.#start = start + 1;
    let best: U | undefined;
    for (let offset = 0; offset < count; offset += 1) {
      const index = start + offset < count ? start + offset : start + offset - count;
      const upstream = upstreams[index] as U;
      if (!upstream.available || upstream === exclude) continue;
      if (best === undefined || upstream.inFlight < best.inFlight) {
        best = upstream;
        if (best.inFlight === 0) break;
      }
    }
    return best;
  }
}

/** Factory of {@link LeastInFlightSelector}. */
export function leastInFlight<U extends SelectableUpstream>(upstreams: readonly U[]): ProxySelector<U> {
  return new LeastInFlightSelector(upstreams);
}
