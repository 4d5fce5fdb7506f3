/**
 * Least in flight: the available upstream with the fewest requests and tunnels in flight. Ties rotate
 * (the scan starts one further each time), so idle upstreams share the load evenly instead of the first
 * one taking everything. O(n) in the route's upstreams, which is small per route.
 */
import type { ProxySelector, SelectableUpstream } from './proxy-selector.js';

/** Picks the least loaded upstream. */
export class LeastInFlightSelector<U extends SelectableUpstream> implements ProxySelector<U> {
  #upstreams: readonly U[];
  #start = 0;

  constructor(upstreams: readonly U[]) {
    this.#upstreams = upstreams;
  }

  select(exclude?: U): U | undefined {
    const upstreams = this.#upstreams;
    const count = upstreams.length;
    if (count === 0) return undefined;
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

  update(upstreams: readonly U[]): void {
    this.#upstreams = upstreams;
  }
}

/** Factory of {@link LeastInFlightSelector}. */
export function leastInFlight<U extends SelectableUpstream>(upstreams: readonly U[]): ProxySelector<U> {
  return new LeastInFlightSelector(upstreams);
}
