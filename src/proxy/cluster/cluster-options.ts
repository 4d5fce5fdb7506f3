/**
 * Options of {@link ClusterPrimary}: defaults, validation, freeze. The control plane, trust store and
 * admin options are `ProxyServer`'s (validated by the same code); the data-plane options are
 * `ProxyServer`'s too and reach every worker over IPC as plain data (a selector by name: a factory or a
 * logger cannot cross processes, so workers log through their own logger at `logLevel`).
 */
import { availableParallelism } from 'node:os';
import { InvalidOptionError } from '../../shared/errors.js';
import { LOG_LEVELS, type LogLevel } from '../../shared/env.js';
import type { Logger } from '../../shared/logger.js';
import type { AdminOptions, ResolvedAdminOptions } from '../admin/admin-options.js';
import type { TrustStore } from '../../shared/trust/trust-store.js';
import type { DataPlaneOptions, ResolvedDataPlaneOptions, TlsOptions } from '../data-plane/data-plane-options.js';
import { SELECTORS } from '../data-plane/selectors/index.js';
import type { ProxySelectorName } from '../data-plane/selectors/proxy-selector.js';
import type { AffinityMode } from '../registry/backend.js';
import type { RedisFleetOptions, ResolvedFleetOptions } from '../fleet/fleet-options.js';
import { type ProxyControlOptions, resolveProxyOptions } from '../proxy-options.js';

/** Most worker processes. */
export const MAX_WORKERS = 64;
/** Default interval of the workers' counter reports to the primary, in ms. */
export const DEFAULT_REPORT_INTERVAL_MS = 1_000;
/** Default delay before replacing a dead worker, in ms; doubles while replacements keep dying. */
export const DEFAULT_RESPAWN_DELAY_MS = 200;
/** Default longest delay before replacing a dead worker, in ms. */
export const DEFAULT_RESPAWN_MAX_DELAY_MS = 10_000;

/**
 * Options of a cluster primary. Every field but `workers` is optional and states its default; the
 * data-plane options (timeouts, `noTargetStatus`, `accessLog`, ...) are `ProxyServer`'s and apply in
 * every worker.
 */
export interface ClusterOptions extends Omit<DataPlaneOptions, 'logger' | 'selector'> {
  /** Selection policy of every worker, by name (a factory cannot reach other processes). Default `round-robin`. */
  selector?: ProxySelectorName;
  /** Worker processes, 1 to 64, or `'auto'` for `os.availableParallelism()`. Required. */
  workers: number | 'auto';
  /** Listen address of the workers' HTTP and HTTPS listeners. Default `0.0.0.0`. */
  host?: string;
  /** HTTP port shared by the workers; 0 picks one free port for all. Default 3080. */
  port?: number;
  /** HTTPS port shared by the workers (with `tls`). Default 3443. */
  tlsPort?: number;
  /** Certificate and key (PEM) of HTTPS and, unless `control.tls` is given, of the control plane. Default none. */
  tls?: TlsOptions;
  /** IPs and CIDRs of proxies in front whose X-Forwarded-* headers are kept. Default none. */
  trustedProxies?: readonly string[];
  /** Bound on each worker's graceful stop, in ms. Default 10000. */
  shutdownTimeoutMs?: number;
  /** Longest silence between upstream body chunks, as in `ProxyServer`. Default 60000. */
  bodyTimeoutMs?: number;
  /** Default session affinity of routes, as in `ProxyServer`. Default `none`. */
  affinity?: AffinityMode | 'none';
  /** With `affinity: 'hash'`: the header hashed, as in `ProxyServer`. Default none. */
  affinityHeader?: string;
  /** Key of the affinity cookies' HMAC, shared by every worker. Default 32 random bytes. */
  affinitySecret?: string | Buffer;
  /** The control plane (on the primary), as in `ProxyServer`. Default enabled on `0.0.0.0:3042`. */
  control?: ProxyControlOptions | false;
  /** Trusted keys. Default the file store in `certstore`, watched; `{ redis: { url } }` joins a fleet, as in `ProxyServer`. */
  trustStore?: TrustStore | { redis: RedisFleetOptions };
  /** Directory of the trust store. Default `certstore`. */
  certstore?: string;
  /** The admin listener (on the primary), as in `ProxyServer`. Default `false`. */
  admin?: AdminOptions | false;
  /** The primary's logger. Default silent. */
  logger?: Logger;
  /** pino level of the workers' loggers (they log to the inherited stdout). Default `info`. */
  logLevel?: LogLevel;
  /** Format of the workers' log lines: `json` or `pretty` (for a terminal, as the primary's). Default `json`. */
  logFormat?: 'json' | 'pretty';
  /** Interval of the workers' counter reports, in ms, 100 to 60000. Default 1000. */
  reportIntervalMs?: number;
  /** First delay before replacing a dead worker, in ms, 10 to 60000. Default 200. */
  respawnDelayMs?: number;
  /** Longest such delay, in ms, at least `respawnDelayMs`. Default 10000. */
  respawnMaxDelayMs?: number;
  /** Module a worker runs. Default the compiled `worker-main.js` next to this file. */
  workerExec?: string;
}

/**
 * The plain data-plane options of the workers (numbers, booleans, strings, lists of strings: timeouts,
 * `noTargetStatus`, `accessLog`, `selector` by name, `upstreamCa` as PEM text), validated again by each
 * worker's `resolveDataPlaneOptions`.
 */
export type WorkerDataPlaneSettings = Readonly<Record<string, WorkerSettingValue>>;

/** One plain option value: a number, boolean or string, a list of strings, or flags (`accessLog: { query }`). */
export type WorkerSettingValue = string | number | boolean | readonly string[] | Readonly<Record<string, boolean>>;

/** The data-plane settings sent to each worker. */
export interface WorkerDataPlaneOptions {
  /** Every other plain data-plane option; see {@link WorkerDataPlaneSettings}. */
  readonly settings?: WorkerDataPlaneSettings;
  readonly host: string;
  readonly port: number;
  readonly tlsPort: number;
  /** PEM certificate and key of the HTTPS listener, when there is one. */
  readonly tls: { readonly cert: string; readonly key: string } | undefined;
  readonly trustedProxies: readonly string[];
  /** Bound on the worker's graceful stop, in ms. */
  readonly shutdownTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly affinity: AffinityMode | 'none';
  readonly affinityHeader: string | undefined;
  /** The affinity secret, hex (the same in every worker, so a cookie is valid whichever one answers). */
  readonly affinitySecret: string;
  /** The proxy's `Via` id, the same in every worker, so a loop through another worker is seen too. */
  readonly proxyId?: string | undefined;
  /** Most open tunnels per target origin, per worker. */
  readonly maxTunnelsPerTarget?: number | undefined;
}

/** The validated, frozen options. */
export interface ResolvedClusterOptions {
  readonly workers: number;
  readonly dataPlane: WorkerDataPlaneOptions;
  readonly control: Readonly<ProxyControlOptions> | undefined;
  readonly trustStore: TrustStore | undefined;
  /** The fleet's Redis options, when `trustStore: { redis }` was given. */
  readonly fleet: ResolvedFleetOptions | undefined;
  readonly certstore: string;
  readonly admin: ResolvedAdminOptions | undefined;
  readonly logger: Logger;
  readonly logLevel: LogLevel;
  readonly logFormat: 'json' | 'pretty';
  readonly reportIntervalMs: number;
  readonly respawnDelayMs: number;
  readonly respawnMaxDelayMs: number;
  readonly workerExec: string | undefined;
}

/** Resolves `'auto'` and validates a worker count. @throws {InvalidOptionError} naming `workers`. */
export function resolveWorkers(workers: unknown): number {
  const count = workers === 'auto' ? Math.min(MAX_WORKERS, availableParallelism()) : workers;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_WORKERS) {
    throw new InvalidOptionError(`workers: expected an integer from 1 to ${MAX_WORKERS} or 'auto', got ${String(workers)}`);
  }
  return count;
}

function integer(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < min || resolved > max) {
    throw new InvalidOptionError(`${name}: expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return resolved;
}

function pemString(value: string | Buffer): string {
  return typeof value === 'string' ? value : value.toString('utf8');
}

/** The name of a built-in selector. @throws {InvalidOptionError} for a factory of the caller's. */
function selectorName(selector: ResolvedDataPlaneOptions['selector']): ProxySelectorName {
  const name = (Object.keys(SELECTORS) as ProxySelectorName[]).find((candidate) => SELECTORS[candidate] === selector);
  if (name === undefined) throw new InvalidOptionError(`selector: in a cluster, one of ${Object.keys(SELECTORS).join(', ')} (a factory cannot reach the workers)`);
  return name;
}

/**
 * The resolved data-plane options as plain data for the workers: every number, boolean and string
 * option (so an option added to the data plane reaches the workers without a change here), the selector
 * by name and the upstream CA as text.
 */
function workerSettings(dataPlane: ResolvedDataPlaneOptions): WorkerDataPlaneSettings {
  const settings: Record<string, WorkerSettingValue> = {};
  for (const [name, value] of Object.entries(dataPlane)) {
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') settings[name] = value;
  }
  // Resolved as two fields; given as the option.
  delete settings.accessLogQuery;
  if (dataPlane.accessLogQuery) settings.accessLog = { query: true };
  settings.selector = selectorName(dataPlane.selector);
  if (dataPlane.upstreamCa !== undefined) settings.upstreamCa = pemString(dataPlane.upstreamCa);
  return Object.freeze(settings);
}

/** Options of a cluster primary that are not `ProxyServer`'s. */
const CLUSTER_ONLY_OPTIONS: ReadonlySet<string> = new Set(['workers', 'logLevel', 'reportIntervalMs', 'respawnDelayMs', 'respawnMaxDelayMs', 'workerExec']);

/** Applies defaults, validates and freezes. @throws {InvalidOptionError} naming the option. */
export function resolveClusterOptions(options: ClusterOptions): ResolvedClusterOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('cluster options must be an object');
  const workers = resolveWorkers(options.workers);
  if (options.selector !== undefined && typeof options.selector !== 'string') {
    throw new InvalidOptionError(`selector: in a cluster, one of ${Object.keys(SELECTORS).join(', ')} (a factory cannot reach the workers)`);
  }
  const proxy = resolveProxyOptions(Object.fromEntries(Object.entries(options).filter(([name]) => !CLUSTER_ONLY_OPTIONS.has(name))));
  const { dataPlane } = proxy;
  const respawnDelayMs = integer('respawnDelayMs', options.respawnDelayMs, DEFAULT_RESPAWN_DELAY_MS, 10, 60_000);
  const logLevel = options.logLevel ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new InvalidOptionError(`logLevel: expected one of ${LOG_LEVELS.join(', ')}, got ${String(logLevel)}`);
  if (options.workerExec !== undefined && (typeof options.workerExec !== 'string' || options.workerExec === '')) {
    throw new InvalidOptionError('workerExec: expected a module path');
  }
  const logFormat = options.logFormat ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'pretty') throw new InvalidOptionError(`logFormat: expected json or pretty, got ${String(logFormat)}`);
  return Object.freeze({
    workers,
    dataPlane: Object.freeze({
      host: dataPlane.host,
      port: dataPlane.port,
      tlsPort: dataPlane.tlsPort,
      tls: dataPlane.tls === undefined ? undefined : Object.freeze({ cert: pemString(dataPlane.tls.cert), key: pemString(dataPlane.tls.key) }),
      trustedProxies: Object.freeze([...(options.trustedProxies ?? [])]),
      shutdownTimeoutMs: dataPlane.shutdownTimeoutMs,
      bodyTimeoutMs: dataPlane.bodyTimeoutMs,
      affinity: dataPlane.affinity,
      affinityHeader: dataPlane.affinityHeader,
      affinitySecret: dataPlane.affinitySecret.toString('hex'),
      proxyId: dataPlane.proxyId,
      maxTunnelsPerTarget: dataPlane.maxTunnelsPerTarget,
      settings: workerSettings(dataPlane),
    }),
    control: proxy.control,
    trustStore: proxy.trustStore,
    fleet: proxy.fleet,
    certstore: proxy.certstore,
    admin: proxy.admin,
    logger: proxy.logger,
    logLevel,
    logFormat,
    reportIntervalMs: integer('reportIntervalMs', options.reportIntervalMs, DEFAULT_REPORT_INTERVAL_MS, 100, 60_000),
    respawnDelayMs,
    respawnMaxDelayMs: integer('respawnMaxDelayMs', options.respawnMaxDelayMs, DEFAULT_RESPAWN_MAX_DELAY_MS, respawnDelayMs, 600_000),
    workerExec: options.workerExec,
  });
}
