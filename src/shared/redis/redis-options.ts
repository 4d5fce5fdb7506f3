/**
 * Where a fleet's shared state lives: the Redis URL and the key prefix, validated once. The URL may hold
 * a password, so it is never logged as given: {@link redactRedisUrl} is what reaches a log line.
 */
import { InvalidOptionError } from '../errors.js';

/** Default prefix of every key the fleet writes (trust store, replay cache, membership). */
export const DEFAULT_REDIS_PREFIX = 'inteli:';
/** Default time to open a connection before a start fails, in milliseconds. */
export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 5000;
/** Default bound on one command (a write, a replay check), in milliseconds. */
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2000;

/** Where the fleet's shared state lives. */
export interface RedisConnectionOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://...` (TLS). Required. */
  url: string;
  /** Prefix of every key, 0 to 64 characters of `[A-Za-z0-9:._-]`. Default `inteli:`. */
  prefix?: string;
  /** Time to connect at start, in milliseconds, 100 to 60000. Default 5000. */
  connectTimeoutMs?: number;
  /** Bound on one command, in milliseconds, 100 to 60000. Default 2000. */
  commandTimeoutMs?: number;
}

/** {@link RedisConnectionOptions} validated, defaults applied, frozen. */
export interface ResolvedRedisConnectionOptions {
  readonly url: string;
  readonly prefix: string;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
}

const PREFIX = /^[A-Za-z0-9:._-]{0,64}$/;

function integer(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < min || resolved > max) {
    throw new InvalidOptionError(`${name}: expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return resolved;
}

/** True when `value` is a `redis://` or `rediss://` URL with a host. */
export function isRedisUrl(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** The URL without its user and password, for logs and status pages. */
export function redactRedisUrl(value: string): string {
  try {
    const url = new URL(value);
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return '<invalid url>';
  }
}

/**
 * Validates, applies defaults and freezes. `name` prefixes every message (e.g. `trustStore.redis`).
 *
 * @throws {InvalidOptionError} naming the option.
 */
export function resolveRedisConnectionOptions(options: RedisConnectionOptions, name = 'redis'): ResolvedRedisConnectionOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(`${name}: expected { url, prefix? }`);
  if (!isRedisUrl(options.url)) throw new InvalidOptionError(`${name}.url: expected a redis:// or rediss:// URL with a host`);
  const prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new InvalidOptionError(`${name}.prefix: expected 0 to 64 characters of [A-Za-z0-9:._-]`);
  }
  return Object.freeze({
    url: options.url,
    prefix,
    connectTimeoutMs: integer(`${name}.connectTimeoutMs`, options.connectTimeoutMs, DEFAULT_REDIS_CONNECT_TIMEOUT_MS, 100, 60_000),
    commandTimeoutMs: integer(`${name}.commandTimeoutMs`, options.commandTimeoutMs, DEFAULT_REDIS_COMMAND_TIMEOUT_MS, 100, 60_000),
  });
}
