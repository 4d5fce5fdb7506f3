/**
 * Options of discovery, shared by the beacon sender and receiver, the probe responder and the prober, in
 * three steps as elsewhere: `DEFAULT_*` constants, validation (an {@link InvalidOptionError} naming the
 * option, a {@link ClusterSecretError} for the secret), and a frozen resolved object.
 *
 * Defaults: beacons to the administratively scoped (RFC 2365, site-local) group 239.255.42.99 on UDP port
 * 3043 with TTL 1 (never past the first router), every 5 s ± 20 %, each valid for 3 intervals; probes on
 * UDP port 3044.
 */
import { isIPv4 } from 'node:net';
import { InvalidOptionError } from '../errors.js';
import { integerOption } from '../control-client/client-options.js';
import { ClusterKeyring } from './cluster-keyring.js';
import { MAX_BEACON_LIFETIME_MS } from './beacon-message.js';
import type { SourceRateLimits } from './source-rate-limiter.js';

/** Default multicast group: administratively scoped (239.255.0.0/16, RFC 2365), so routers keep it on site. */
export const DEFAULT_DISCOVERY_GROUP = '239.255.42.99';
/** Default UDP port of beacons. */
export const DEFAULT_BEACON_PORT = 3043;
/** Default UDP port probe responders listen on (separate from beacons so neither sees the other's traffic). */
export const DEFAULT_PROBE_PORT = 3044;
/** Default multicast TTL: 1, the local link only. */
export const DEFAULT_MULTICAST_TTL = 1;
/** Default destination of `broadcastOnly` beacons. */
export const DEFAULT_BROADCAST_ADDRESS = '255.255.255.255';
/** Default mean beacon interval, in ms. */
export const DEFAULT_BEACON_INTERVAL_MS = 5_000;
/** Default jitter: each interval is drawn uniformly within ± this fraction (libcluster's idea: senders do not synchronise). */
export const DEFAULT_BEACON_JITTER = 0.2;
/** Default lifetime of a beacon, in intervals: a proxy is down after missing about this many. */
export const DEFAULT_BEACON_LIFETIME_INTERVALS = 3;
/** Default clock difference tolerated between proxy and agent, in ms. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 30_000;
/** Default most proxies one receiver tracks. */
export const DEFAULT_MAX_PROXIES = 64;
/** Default wait for probe answers, in ms. */
export const DEFAULT_PROBE_TIMEOUT_MS = 1_000;
/** Default rate limits of every discovery socket. */
export const DEFAULT_RATE_LIMITS: SourceRateLimits = Object.freeze({ perSourcePerSecond: 20, perSourceBurst: 40, globalPerSecond: 500, maxSources: 1024 });

/** Discovery options. Only `secret` is required. */
export interface DiscoveryOptions {
  /** Cluster secret(s), the first one sealing: base64/hex text (several separated by commas), an array, or a keyring. Required. */
  secret: string | Buffer | readonly (string | Buffer)[] | ClusterKeyring;
  /** Multicast group (IPv4, 224.0.0.0/4). Default `239.255.42.99`. */
  group?: string;
  /** UDP port of beacons, 1 to 65535 (0 for an ephemeral port, receivers in tests). Default 3043. */
  port?: number;
  /** UDP port of probe responders, 0 to 65535. Default 3044. */
  probePort?: number;
  /**
   * Local IPv4 address of the interface to use: beacons leave and are joined there, probes are sent and
   * answered from there. Default: the system's choice (set it on multi-homed hosts).
   */
  interface?: string;
  /** Multicast TTL, 0 to 255 (0: this host only). Default 1. */
  ttl?: number;
  /** Send beacons as UDP broadcast instead of multicast (networks that drop multicast). Default false. */
  broadcastOnly?: boolean;
  /** Broadcast destination with `broadcastOnly`. Default `255.255.255.255`. */
  broadcastAddress?: string;
  /** Address receivers bind to. Default: the group (multicast) or `0.0.0.0` (broadcast). */
  bindAddress?: string;
  /** Mean beacon interval, 50 to 300000 ms. Default 5000. */
  intervalMs?: number;
  /** Interval jitter, 0 to 0.5 (fraction). Default 0.2. */
  jitter?: number;
  /** Beacon lifetime in intervals, 2 to 10. Default 3. */
  lifetimeIntervals?: number;
  /** Tolerated clock difference, 0 to 300000 ms. Default 30000. */
  maxClockSkewMs?: number;
  /** Most proxies tracked, 1 to 4096. Default 64. */
  maxProxies?: number;
  /** Rate limits per source and global. Default 20/s per source (burst 40), 500/s in all, 1024 sources. */
  rateLimits?: Partial<SourceRateLimits>;
  /** Wait for probe answers, 10 to 60000 ms. Default 1000. */
  probeTimeoutMs?: number;
}

/** Validated discovery options. */
export interface ResolvedDiscoveryOptions {
  readonly keyring: ClusterKeyring;
  readonly group: string;
  readonly port: number;
  readonly probePort: number;
  readonly interface: string | undefined;
  readonly ttl: number;
  readonly broadcastOnly: boolean;
  readonly broadcastAddress: string;
  readonly bindAddress: string;
  readonly intervalMs: number;
  readonly jitter: number;
  readonly lifetimeIntervals: number;
  readonly lifetimeMs: number;
  readonly maxClockSkewMs: number;
  readonly maxProxies: number;
  readonly rateLimits: SourceRateLimits;
  readonly probeTimeoutMs: number;
}

function ipv4(name: string, value: unknown, fallback: string | undefined): string | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !isIPv4(value)) throw new InvalidOptionError(`${name}: expected an IPv4 address, got ${JSON.stringify(String(value).slice(0, 64))}`);
  return value;
}

function isMulticast(address: string): boolean {
  const first = Number(address.split('.')[0]);
  return first >= 224 && first <= 239;
}

/**
 * Applies defaults and validates.
 *
 * @throws {InvalidOptionError} naming the first invalid option; {@link ClusterSecretError} for a missing or weak secret.
 */
export function resolveDiscoveryOptions(options: DiscoveryOptions): ResolvedDiscoveryOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('discovery: expected an object with at least { secret }');
  const keyring = options.secret instanceof ClusterKeyring ? options.secret : ClusterKeyring.from(options.secret, 'discovery.secret');
  const group = ipv4('group', options.group, DEFAULT_DISCOVERY_GROUP) as string;
  if (!isMulticast(group)) throw new InvalidOptionError(`group: expected an IPv4 multicast address (224.0.0.0/4; 239.255.0.0/16 recommended), got ${group}`);
  if (options.broadcastOnly !== undefined && typeof options.broadcastOnly !== 'boolean') throw new InvalidOptionError('broadcastOnly: expected a boolean');
  const broadcastOnly = options.broadcastOnly === true;
  const jitter = options.jitter ?? DEFAULT_BEACON_JITTER;
  if (typeof jitter !== 'number' || !Number.isFinite(jitter) || jitter < 0 || jitter > 0.5) throw new InvalidOptionError(`jitter: expected a number from 0 to 0.5, got ${String(options.jitter)}`);
  const intervalMs = integerOption('intervalMs', options.intervalMs, DEFAULT_BEACON_INTERVAL_MS, 50, 300_000);
  const lifetimeIntervals = integerOption('lifetimeIntervals', options.lifetimeIntervals, DEFAULT_BEACON_LIFETIME_INTERVALS, 2, 10);
  const lifetimeMs = Math.min(intervalMs * lifetimeIntervals, MAX_BEACON_LIFETIME_MS);
  const limits = options.rateLimits ?? {};
  if (typeof limits !== 'object' || limits === null) throw new InvalidOptionError('rateLimits: expected an object');
  const rateLimits: SourceRateLimits = Object.freeze({
    perSourcePerSecond: integerOption('rateLimits.perSourcePerSecond', limits.perSourcePerSecond, DEFAULT_RATE_LIMITS.perSourcePerSecond, 1, 100_000),
    perSourceBurst: integerOption('rateLimits.perSourceBurst', limits.perSourceBurst, DEFAULT_RATE_LIMITS.perSourceBurst, 1, 100_000),
    globalPerSecond: integerOption('rateLimits.globalPerSecond', limits.globalPerSecond, DEFAULT_RATE_LIMITS.globalPerSecond, 1, 1_000_000),
    maxSources: integerOption('rateLimits.maxSources', limits.maxSources, DEFAULT_RATE_LIMITS.maxSources, 1, 1_000_000),
  });
  return Object.freeze({
    keyring,
    group,
    port: integerOption('port', options.port, DEFAULT_BEACON_PORT, 0, 65_535),
    probePort: integerOption('probePort', options.probePort, DEFAULT_PROBE_PORT, 0, 65_535),
    interface: ipv4('interface', options.interface, undefined),
    ttl: integerOption('ttl', options.ttl, DEFAULT_MULTICAST_TTL, 0, 255),
    broadcastOnly,
    broadcastAddress: ipv4('broadcastAddress', options.broadcastAddress, DEFAULT_BROADCAST_ADDRESS) as string,
    bindAddress: ipv4('bindAddress', options.bindAddress, broadcastOnly ? '0.0.0.0' : group) as string,
    intervalMs,
    jitter,
    lifetimeIntervals,
    lifetimeMs,
    maxClockSkewMs: integerOption('maxClockSkewMs', options.maxClockSkewMs, DEFAULT_MAX_CLOCK_SKEW_MS, 0, 300_000),
    maxProxies: integerOption('maxProxies', options.maxProxies, DEFAULT_MAX_PROXIES, 1, 4096),
    rateLimits,
    probeTimeoutMs: integerOption('probeTimeoutMs', options.probeTimeoutMs, DEFAULT_PROBE_TIMEOUT_MS, 10, 60_000),
  });
}
