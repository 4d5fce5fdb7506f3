import type { RequestFacts } from '../request-facts.js';

export type { RequestFacts } from '../request-facts.js';

/**
 * The policy interface: given the upstreams of one route, pick the next one. The data plane makes one
 * selector per route and keeps it across rebuilds of the same rule (it calls `update` with the new
 * upstream list), so a policy's state (a round-robin cursor) carries over. Selectors see only this narrow
 * view of an upstream, never sockets or pools, which keeps them pure and testable with fixture pools.
 */

/** What a policy may look at. `available` is false for draining, ejected and removed upstreams. */
export interface SelectableUpstream {
  /** Stable identity of the upstream across rebuilds. */
  readonly key: string;
  readonly available: boolean;
  /** Requests and tunnels in flight. */
  readonly inFlight: number;
  /** Relative weight, 1 to 1000. */
  readonly weight: number;
}

/** A selection policy for one route. */
export interface ProxySelector<U extends SelectableUpstream = SelectableUpstream> {
  /**
   * Picks an available upstream, never `exclude` (the one a retry is moving away from), or returns
   * undefined when none is available. Called once per request: keep it O(1) amortised.
   *
   * @param request the request's facts (method, path, host, headers, client address), for policies that
   *   pick by request (affinity of their own); absent on retries. The object is reused for the next
   *   request: read it during the call, copy what you keep.
   */
  select(exclude?: U, request?: RequestFacts): U | undefined;
  /** Replaces the upstream list after a rebuild; the same objects keep their identity (compare `key`). */
  update(upstreams: readonly U[]): void;
}

/** Makes the selector of a new route. */
export type ProxySelectorFactory = <U extends SelectableUpstream>(upstreams: readonly U[]) => ProxySelector<U>;

/** Names of the built-in policies. */
export type ProxySelectorName = 'round-robin' | 'least-in-flight' | 'weighted';
