/**
 * Round-robin: an exact rotation over the route's upstreams in registration order (A, B, A, B). When the
 * list changes, the rotation continues after the upstream picked last, so a newcomer simply takes its turn
 * and never gets a burst (the original implementation's counters let a late joiner take every request
 * until it caught up). Unavailable upstreams are skipped.
 */
import type { ProxySelector, SelectableUpstream } from './proxy-selector.js';

/** The default policy. */
export class RoundRobinSelector<U extends SelectableUpstream> implements ProxySelector<U> {
  #upstreams: readonly U[];
  /** Index of the next upstream to try. */
  #next = 0;
  #last: U | undefined;

  constructor(upstreams: readonly U[]) {
    this.#upstreams = upstreams;
  }

  select(exclude?: U): U | undefined {
    const upstreams = this.#upstreams;
    const count = upstreams.length;
    let index = this.#next;
    for (let tried = 0; tried < count; tried += 1) {
      if (index >= count) index = 0;
      const upstream = upstreams[index] as U;
      index += 1;
      if (upstream.available && upstream !== exclude) {
        this.#next = index;
        this.#last = upstream;
        return upstream;
      }
    }
    return undefined;
  }

  update(upstreams: readonly U[]): void {
    const previous = this.#upstreams;
    const last = this.#last;
    this.#upstreams = upstreams;
    const positions = new Map<string, number>();
    for (let index = 0; index < upstreams.length; index += 1) positions.set((upstreams[index] as U).key, index);
    const lastPosition = last === undefined ? undefined : positions.get(last.key);
    if (lastPosition !== undefined) {
      this.#next = lastPosition + 1;
      return;
    }
    // The last pick left (or nothing was picked yet): continue with the first survivor that was due next.
    for (let tried = 0; tried < previous.length; tried += 1) {
      const position = positions.get((previous[(this.#next + tried) % previous.length] as U).key);
      if (position !== undefined) {
        this.#next = position;
        return;
      }
    }
    this.#next = 0;
  }
}

/** Factory of {@link RoundRobinSelector}. */
export function roundRobin<U extends SelectableUpstream>(upstreams: readonly U[]): ProxySelector<U> {
  return new RoundRobinSelector(upstreams);
}
