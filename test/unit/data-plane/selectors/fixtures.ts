/** Fixture pools for the selector tests: plain objects standing in for upstreams. */
import type { SelectableUpstream } from '../../../../src/proxy/data-plane/selectors/proxy-selector.js';

/** A mutable fixture upstream. */
export interface FixtureUpstream extends SelectableUpstream {
  available: boolean;
  inFlight: number;
  weight: number;
}

/** Upstreams named by the given keys, available, idle, weight 1. */
export function pool(...keys: string[]): FixtureUpstream[] {
  return keys.map((key) => ({ key, available: true, inFlight: 0, weight: 1 }));
}

/** Keys of `count` consecutive picks. */
export function picks(selector: { select(exclude?: FixtureUpstream): FixtureUpstream | undefined }, count: number): (string | undefined)[] {
  return Array.from({ length: count }, () => selector.select()?.key);
}
