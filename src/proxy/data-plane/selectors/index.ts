/** The selection policies: the interface, the built-ins, and name resolution for options. */
import { InvalidOptionError } from '../../../shared/errors.js';
import { leastInFlight } from './least-in-flight.js';
import type { ProxySelectorFactory, ProxySelectorName } from './proxy-selector.js';
import { roundRobin } from './round-robin.js';
import { weightedRoundRobin } from './weighted-round-robin.js';

export type { ProxySelector, ProxySelectorFactory, ProxySelectorName, RequestFacts, SelectableUpstream } from './proxy-selector.js';
export { RoundRobinSelector, roundRobin } from './round-robin.js';
export { LeastInFlightSelector, leastInFlight } from './least-in-flight.js';
export { WeightedRoundRobinSelector, weightedRoundRobin, buildWheel } from './weighted-round-robin.js';

/** The built-in policies by name. */
export const SELECTORS: Readonly<Record<ProxySelectorName, ProxySelectorFactory>> = Object.freeze({
  'round-robin': roundRobin,
  'least-in-flight': leastInFlight,
  weighted: weightedRoundRobin,
});

/** Resolves the `selector` option: a built-in name or a factory. */
export function resolveSelector(value: unknown): ProxySelectorFactory {
  if (typeof value === 'function') return value as ProxySelectorFactory;
  if (typeof value === 'string' && Object.hasOwn(SELECTORS, value)) return SELECTORS[value as ProxySelectorName];
  throw new InvalidOptionError(`selector must be one of ${Object.keys(SELECTORS).join(', ')} or a factory function, got ${JSON.stringify(value)}`);
}
