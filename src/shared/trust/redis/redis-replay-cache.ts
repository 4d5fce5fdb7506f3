/**
 * The replay cache of a fleet: a token's `jti` is claimed with `SET <key> 1 NX PXAT <expiry>`, so a
 * token accepted by one proxy is refused by every other until it expires, and Redis forgets it then (no
 * sweeping, no unbounded growth). The key is a SHA-256 of the jti, so its size is fixed whatever the
 * token carries.
 *
 * Every claim is also remembered locally first, so a replay to the same proxy is refused even when
 * Redis is not answering. While Redis is out of reach, claims fall back to that local cache and are
 * counted (`stats.localFallbacks`): cross-proxy replay protection is then per proxy, for at most as
 * long as the trust store's staleness bound lets new sessions in at all (past it, authentication fails
 * closed anyway). docs/fleet.md states this.
 */
import { createHash } from 'node:crypto';
import { InvalidOptionError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logger.js';
import { closeRedis, connectRedis, type RedisClient } from '../../redis/redis-connection.js';
import { redactRedisUrl, resolveRedisConnectionOptions, type RedisConnectionOptions, type ResolvedRedisConnectionOptions } from '../../redis/redis-options.js';
import { MemoryReplayCache } from '../memory-replay-cache.js';
import type { ReplayCache, ReplayVerdict } from '../replay-cache.js';

/** Longest jti claimed, in characters (the verifier's bound plus the subject it prefixes). */
export const MAX_CLAIM_KEY_LENGTH = 512;

/** Options of {@link RedisReplayCache}. */
export interface RedisReplayCacheOptions extends RedisConnectionOptions {
  /** Bound of the local cache (same-proxy replays, and the fallback while Redis is out of reach). Default 100000. */
  localMaxEntries?: number;
  /** Logger. Default silent. */
  logger?: Logger;
  /** Clock in milliseconds, for tests. Default `Date.now`. */
  now?: () => number;
}

/** Counters of a {@link RedisReplayCache}. */
export interface RedisReplayCacheStats {
  /** Claims refused because another proxy (or this one) used the token first. */
  replays: number;
  /** Claims decided by the local cache alone because Redis did not answer. */
  localFallbacks: number;
}

/** A replay cache shared by every proxy of a fleet. */
export class RedisReplayCache implements ReplayCache {
  readonly #connection: ResolvedRedisConnectionOptions;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #local: MemoryReplayCache;
  readonly #stats: RedisReplayCacheStats = { replays: 0, localFallbacks: 0 };
  #client: RedisClient | undefined;
  #starting: Promise<void> | undefined;
  #stopped = false;
  #unreachable = false;

  /** Validates the options; nothing connects before {@link start}. @throws {InvalidOptionError}. */
  constructor(options: RedisReplayCacheOptions) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('replayCache.redis: expected { url, prefix? }');
    this.#connection = resolveRedisConnectionOptions(options, 'replayCache.redis');
    this.#local = new MemoryReplayCache(options.localMaxEntries === undefined ? {} : { maxEntries: options.localMaxEntries });
    this.#logger = (options.logger ?? silentLogger()).child({ component: 'replay-cache', redis: redactRedisUrl(this.#connection.url) });
    this.#now = options.now ?? Date.now;
  }

  /** Counters (live object). */
  get stats(): Readonly<RedisReplayCacheStats> {
    return this.#stats;
  }

  /** Connects. Idempotent; a failed start may be retried. @throws {TrustStoreError} when Redis cannot be reached. */
  start(): Promise<void> {
    if (this.#starting === undefined) {
      this.#starting = connectRedis(this.#connection, this.#logger).then(
        (client) => {
          if (this.#stopped) closeRedis(client);
          else this.#client = client;
        },
        (error: unknown) => {
          this.#starting = undefined;
          throw error;
        },
      );
    }
    return this.#starting;
  }

  /** Closes the connection. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#starting?.catch(() => undefined);
    closeRedis(this.#client);
    this.#client = undefined;
  }

  /**
   * Claims `jti` until `expiresAtMs` (epoch milliseconds): `fresh` the first time in the whole fleet,
   * `replay` after, `full` when the local cache has no room (failing closed). Never rejects.
   */
  async claim(jti: string, expiresAtMs: number): Promise<ReplayVerdict> {
    // Not a jti the verifier would send: refused like a replay, never stored.
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_CLAIM_KEY_LENGTH || !Number.isFinite(expiresAtMs)) return 'replay';
    const nowMs = this.#now();
    // Seconds for the local cache, rounded up so it never forgets a jti before Redis does.
    const locally = this.#local.remember(jti, Math.ceil(expiresAtMs / 1000), Math.floor(nowMs / 1000));
    if (locally === 'replay') {
      this.#stats.replays += 1;
      return 'replay';
    }
    if (locally === 'full' || expiresAtMs <= nowMs) return locally;
    const client = this.#client;
    try {
      if (client === undefined) throw new Error('replay cache not started');
      const reply = await client.set(this.#keyOf(jti), '1', { condition: 'NX', expiration: { type: 'PXAT', value: Math.ceil(expiresAtMs) } });
      if (this.#unreachable) {
        this.#unreachable = false;
        this.#logger.info('shared replay cache reachable again');
      }
      if (reply === null) {
        this.#stats.replays += 1;
        return 'replay';
      }
      return 'fresh';
    } catch (error) {
      this.#stats.localFallbacks += 1;
      if (!this.#unreachable) {
        this.#unreachable = true;
        this.#logger.warn({ err: (error as Error).message }, 'shared replay cache unreachable; replays are refused per proxy until it is back');
      }
      return locally;
    }
  }

  #keyOf(jti: string): string {
    return `${this.#connection.prefix}jti:${createHash('sha256').update(jti).digest('base64url')}`;
  }
}
