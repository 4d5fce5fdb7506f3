/**
 * Options of the Redis trust store: defaults, validation, freezing.
 */
import { InvalidOptionError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logger.js';
import { resolveRedisConnectionOptions, type RedisConnectionOptions, type ResolvedRedisConnectionOptions } from '../../redis/redis-options.js';

/**
 * Default bound on how long keys loaded from Redis are trusted without contact, in milliseconds. Past
 * it, a revocation made elsewhere may be unknown here, so authentication fails closed.
 */
export const DEFAULT_TRUST_MAX_STALENESS_MS = 30_000;
/** Default length the change stream is trimmed to (approximately, `MAXLEN ~`). */
export const DEFAULT_STREAM_MAX_LENGTH = 10_000;
/**
 * Default longest wait of one blocking stream read, in milliseconds. Each read that returns (with
 * changes or empty) proves the store was current when it was sent, so this also bounds how stale a
 * healthy store may look; it must stay well below the staleness bound.
 */
export const DEFAULT_STREAM_BLOCK_MS = 2000;
/** Most changes read from the stream at once. */
export const STREAM_READ_COUNT = 500;

/** Options of {@link RedisTrustStore}. */
export interface RedisTrustStoreOptions extends RedisConnectionOptions {
  /** Longest time, in milliseconds, the loaded keys serve without contact with Redis, 1000 to 3600000. Default 30000. */
  trustMaxStalenessMs?: number;
  /** Approximate length the change stream is trimmed to, 1 to 10000000. Default 10000. */
  streamMaxLength?: number;
  /** Longest wait of one blocking read, in milliseconds, 10 to 30000, below a third of the staleness bound. Default 2000. */
  streamBlockMs?: number;
  /** Logger. Default silent. */
  logger?: Logger;
  /** Clock in milliseconds, for tests and `createdAt`. Default `Date.now`. */
  now?: () => number;
}

/** Resolved {@link RedisTrustStoreOptions}. */
export interface ResolvedRedisTrustStoreOptions {
  readonly connection: ResolvedRedisConnectionOptions;
  readonly trustMaxStalenessMs: number;
  readonly streamMaxLength: number;
  readonly streamBlockMs: number;
  readonly logger: Logger;
  readonly now: () => number;
}

function integer(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < min || resolved > max) {
    throw new InvalidOptionError(`${name}: expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return resolved;
}

/**
 * Validates, applies defaults and freezes.
 *
 * @throws {InvalidOptionError} naming the option.
 */
export function resolveRedisTrustStoreOptions(options: RedisTrustStoreOptions, name = 'trustStore.redis'): ResolvedRedisTrustStoreOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(`${name}: expected { url, prefix? }`);
  const connection = resolveRedisConnectionOptions(options, name);
  const trustMaxStalenessMs = integer('trustMaxStalenessMs', options.trustMaxStalenessMs, DEFAULT_TRUST_MAX_STALENESS_MS, 1000, 3_600_000);
  const streamBlockMs = integer(`${name}.streamBlockMs`, options.streamBlockMs, Math.min(DEFAULT_STREAM_BLOCK_MS, Math.floor(trustMaxStalenessMs / 3)), 10, 30_000);
  if (streamBlockMs * 3 > trustMaxStalenessMs) {
    throw new InvalidOptionError(`${name}.streamBlockMs: must be at most a third of trustMaxStalenessMs (${trustMaxStalenessMs}), got ${streamBlockMs}`);
  }
  if (options.now !== undefined && typeof options.now !== 'function') throw new InvalidOptionError(`${name}.now: expected a function`);
  return Object.freeze({
    connection,
    trustMaxStalenessMs,
    streamMaxLength: integer(`${name}.streamMaxLength`, options.streamMaxLength, DEFAULT_STREAM_MAX_LENGTH, 1, 10_000_000),
    streamBlockMs,
    logger: options.logger ?? silentLogger(),
    now: options.now ?? Date.now,
  });
}
