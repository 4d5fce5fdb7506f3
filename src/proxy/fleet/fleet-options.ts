/**
 * `trustStore: { redis: { url, prefix?, ... } }`: the options that put a proxy in a fleet, resolved once.
 * With them the proxy's trust store, replay cache and membership live in Redis (docs/fleet.md); without
 * them nothing changes.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { InvalidOptionError } from '../../shared/errors.js';
import { isValidAgentId } from '../../shared/identity/agent-id.js';
import { resolveRedisConnectionOptions, type RedisConnectionOptions, type ResolvedRedisConnectionOptions } from '../../shared/redis/redis-options.js';
import { DEFAULT_FLEET_TTL_MS } from '../../shared/fleet/fleet-membership.js';
import { DEFAULT_TRUST_MAX_STALENESS_MS } from '../../shared/trust/redis/redis-trust-store-options.js';

/** Where a fleet's shared state lives, and how this proxy appears in it. */
export interface RedisFleetOptions extends RedisConnectionOptions {
  /**
   * Longest time, in milliseconds, keys loaded from Redis authenticate new sessions without contact with
   * Redis; past it new sessions get 503 `RP_ERR_TRUST_STALE`. 1000 to 3600000. Default 30000.
   */
  trustMaxStalenessMs?: number;
  /** This proxy's id in the fleet. Default `<host name>-<control port>` (a random suffix for port 0). */
  nodeId?: string;
  /** Host announced in this proxy's URLs when a listener binds a wildcard address. Default the host name. */
  advertiseHost?: string;
  /** Lifetime of the membership announcement, in milliseconds, 300 to 60000. Default 5000. */
  membershipTtlMs?: number;
  /** Longest blocking read of the change stream, in milliseconds (a third of the staleness bound at most). Default 2000. */
  streamBlockMs?: number;
}

/** {@link RedisFleetOptions} validated and frozen. */
export interface ResolvedFleetOptions {
  readonly connection: ResolvedRedisConnectionOptions;
  readonly trustMaxStalenessMs: number;
  readonly nodeId: string;
  readonly advertiseHost: string;
  readonly membershipTtlMs: number;
  readonly streamBlockMs: number | undefined;
}

const HOST = /^[A-Za-z0-9.:\-[\]]{1,253}$/;

/** The host name as a node id prefix: id characters only, at most 40 of them. */
function hostPart(): string {
  const cleaned = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 40);
  return cleaned === '' ? 'proxy' : cleaned;
}

/** True when `value` looks like `{ redis: {...} }` rather than a TrustStore object. */
export function isRedisTrustOption(value: unknown): value is { redis: RedisFleetOptions } {
  return typeof value === 'object' && value !== null && 'redis' in value && typeof (value as { get?: unknown }).get !== 'function';
}

/**
 * Validates, applies defaults and freezes. `controlPort` names the default node id.
 *
 * @throws {InvalidOptionError} naming the option (`trustStore.redis.*`).
 */
export function resolveFleetOptions(options: RedisFleetOptions, controlPort: number | undefined): ResolvedFleetOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('trustStore.redis: expected { url, prefix? }');
  const connection = resolveRedisConnectionOptions(options, 'trustStore.redis');
  const staleness = options.trustMaxStalenessMs ?? DEFAULT_TRUST_MAX_STALENESS_MS;
  if (!Number.isInteger(staleness) || staleness < 1000 || staleness > 3_600_000) {
    throw new InvalidOptionError(`trustStore.redis.trustMaxStalenessMs: expected an integer from 1000 to 3600000, got ${String(options.trustMaxStalenessMs)}`);
  }
  const defaultId = `${hostPart()}-${controlPort === undefined || controlPort === 0 ? randomBytes(3).toString('hex') : controlPort}`;
  const nodeId = options.nodeId ?? defaultId;
  if (!isValidAgentId(nodeId)) throw new InvalidOptionError('trustStore.redis.nodeId: expected an id matching ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$');
  const advertiseHost = options.advertiseHost ?? hostname();
  if (typeof advertiseHost !== 'string' || !HOST.test(advertiseHost)) throw new InvalidOptionError('trustStore.redis.advertiseHost: expected a host name or IP address');
  const ttl = options.membershipTtlMs ?? DEFAULT_FLEET_TTL_MS;
  if (!Number.isInteger(ttl) || ttl < 300 || ttl > 60_000) throw new InvalidOptionError(`trustStore.redis.membershipTtlMs: expected an integer from 300 to 60000, got ${String(options.membershipTtlMs)}`);
  return Object.freeze({ connection, trustMaxStalenessMs: staleness, nodeId, advertiseHost, membershipTtlMs: ttl, streamBlockMs: options.streamBlockMs });
}
