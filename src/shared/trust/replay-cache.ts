/**
 * The replay cache: remembers the `jti` of every accepted token until it expires, so a captured token
 * cannot be presented twice (the original's "signature" was a permanent, replayable bearer token).
 *
 * An interface because a fleet of proxies shares one (Redis `SET NX` with the token's expiry: a token
 * accepted by one proxy is refused by every other); the check is therefore asynchronous. The memory
 * implementation is `memory-replay-cache.ts`.
 */

/**
 * Outcome of {@link ReplayCache.claim}: `fresh` (first use, now remembered), `replay` (seen and not
 * expired) or `full` (no room to remember it: the token is refused, failing closed).
 */
export type ReplayVerdict = 'fresh' | 'replay' | 'full';

/** A set of token ids, each remembered until its expiry. */
export interface ReplayCache {
  /**
   * Claims `jti` until `expiresAtMs` (epoch milliseconds). Resolves `fresh` exactly once per live jti.
   * Rejects when the cache cannot answer (a shared backend is unreachable); the verifier then refuses
   * the token (fail closed).
   */
  claim(jti: string, expiresAtMs: number): Promise<ReplayVerdict>;
}
