/**
 * The replay cache of one proxy process, in memory (see `replay-cache.ts`).
 *
 * Bounded: when the cache is full even after dropping expired entries, it refuses the token (`full`)
 * instead of forgetting a live jti. Failing closed means a flood of valid tokens can delay new sessions,
 * but never re-opens a replay window; the verifier reports it as reason `replay_cache_full` (401) so a
 * metric shows it, and agents retry with backoff. No timer: expired entries are pruned lazily on use.
 */
import { InvalidOptionError } from '../errors.js';
import type { ReplayCache, ReplayVerdict } from './replay-cache.js';

export type { ReplayVerdict } from './replay-cache.js';

/** Default bound on remembered jtis. At most 120 s of tokens are live, so this is ~830 dials/s sustained. */
export const DEFAULT_REPLAY_CACHE_MAX_ENTRIES = 100_000;

/** Options of {@link MemoryReplayCache}. */
export interface MemoryReplayCacheOptions {
  /** Most jtis remembered at once, 1 to 10,000,000. Default 100,000. */
  maxEntries?: number;
  /** Clock in milliseconds since the epoch, for `claim()`. Default `Date.now`. */
  now?: () => number;
}

/** A bounded set of jtis in memory, each remembered until its expiry. */
export class MemoryReplayCache implements ReplayCache {
  readonly #maxEntries: number;
  readonly #now: () => number;
  // Insertion order is roughly expiry order (every token lives at most ~2 minutes), so pruning from the
  // head is amortized O(1); a full sweep runs only when the bound is reached.
  readonly #entries = new Map<string, number>();

  constructor(options: MemoryReplayCacheOptions = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_REPLAY_CACHE_MAX_ENTRIES;
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > 10_000_000) {
      throw new InvalidOptionError(`maxEntries: expected an integer from 1 to 10000000, got ${String(maxEntries)}`);
    }
    if (options.now !== undefined && typeof options.now !== 'function') throw new InvalidOptionError('now: expected a function returning epoch milliseconds');
    this.#maxEntries = maxEntries;
    this.#now = options.now ?? Date.now;
  }

  /** {@link ReplayCache.claim} over {@link MemoryReplayCache.remember}, at the cache's clock (whole seconds, as JWT times are). */
  claim(jti: string, expiresAtMs: number): Promise<ReplayVerdict> {
    return Promise.resolve(this.remember(jti, Math.ceil(expiresAtMs / 1000), Math.floor(this.#now() / 1000)));
  }

  /** Number of jtis currently remembered (expired ones may linger until the next call). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Checks `jti` and remembers it until `expSeconds` (epoch seconds) when it is new.
   * Returns `fresh` (accepted), `replay` (seen and not yet expired) or `full` (refused: no room).
   */
  remember(jti: string, expSeconds: number, nowSeconds: number): ReplayVerdict {
    this.#pruneHead(nowSeconds);
    const known = this.#entries.get(jti);
    if (known !== undefined && known > nowSeconds) return 'replay';
    if (known !== undefined) this.#entries.delete(jti);
    if (expSeconds <= nowSeconds) return 'fresh';
    if (this.#entries.size >= this.#maxEntries) {
      this.#sweep(nowSeconds);
      if (this.#entries.size >= this.#maxEntries) return 'full';
    }
    this.#entries.set(jti, expSeconds);
    return 'fresh';
  }

  /**
   * Returns true when `jti` is fresh (and remembers it until `expSeconds`); false for a replay and, failing
   * closed, when the cache is full.
   */
  checkAndRemember(jti: string, expSeconds: number, nowSeconds: number): boolean {
    return this.remember(jti, expSeconds, nowSeconds) === 'fresh';
  }

  /** Forgets everything. */
  clear(): void {
    this.#entries.clear();
  }

  #pruneHead(nowSeconds: number): void {
    for (const [jti, exp] of this.#entries) {
      if (exp > nowSeconds) return;
      this.#entries.delete(jti);
    }
  }

  #sweep(nowSeconds: number): void {
    for (const [jti, exp] of this.#entries) {
      if (exp <= nowSeconds) this.#entries.delete(jti);
    }
  }
}
