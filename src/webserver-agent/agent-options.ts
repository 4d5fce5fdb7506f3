/**
 * Options of {@link ProxyWebServer} in three steps: `DEFAULT_*` constants, validation (an
 * {@link InvalidOptionError} naming the option and its range), and a frozen resolved object.
 */
import type http from 'node:http';
import type https from 'node:https';
import { InvalidOptionError } from '../shared/errors.js';
import { assertValidAgentId } from '../shared/identity/agent-id.js';
import type { Logger } from '../shared/logger.js';
import type { RuleSpec } from '../shared/protocol.js';
import { resolveBackoffOptions, type BackoffOptions, type ResolvedBackoffOptions } from './backoff.js';
import type { AgentDiscoveryOptions } from '../shared/discovery/agent-discovery.js';
import { resolveRouteSettings, type ResolvedRouteSettings, type RouteSettingsOptions } from './route-settings.js';
import { resolveHealthCheckOption, type HealthCheckOption, type ResolvedHealthCheck } from './target-health-check.js';
import { resolveProxyEndpoints, type ProxyEndpoint, type ResolvedProxyEndpoint } from './proxy-endpoints.js';
import {
  DEFAULT_CLIENT_AUDIENCE,
  DEFAULT_CLIENT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
  DEFAULT_CLIENT_TOKEN_TTL_SECONDS,
  integerOption as integer,
  resolveControlClientOptions,
  type ControlClientOptions,
  type ResolvedControlClientOptions,
} from '../shared/control-client/client-options.js';

/** Default token audience (the proxy's default). */
export const DEFAULT_AGENT_AUDIENCE = DEFAULT_CLIENT_AUDIENCE;
/** Default listen address of the web server: loopback, so a backend is not exposed by accident. */
export const DEFAULT_AGENT_HOST = '127.0.0.1';
/** Default wait for an `ack`, in milliseconds. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Default wait for `drained` on stop, in milliseconds. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
/** Default wait for in-flight requests after `server.close()` before the remaining sockets are cut, in ms. */
export const DEFAULT_CLOSE_GRACE_MS = 5000;
/** Default bound on the TCP + TLS + upgrade handshake, in milliseconds. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = DEFAULT_CLIENT_HANDSHAKE_TIMEOUT_MS;
/** Default silence (no ping, no frame) after which the connection is considered dead: 3 proxy heartbeats. */
export const DEFAULT_IDLE_TIMEOUT_MS = DEFAULT_CLIENT_IDLE_TIMEOUT_MS;
/** Default lifetime of each dial's token, in seconds. */
export const DEFAULT_AGENT_TOKEN_TTL_SECONDS = DEFAULT_CLIENT_TOKEN_TTL_SECONDS;
export { MAX_INCOMING_FRAME_BYTES, MAX_OUTGOING_FRAME_BYTES } from '../shared/control-client/control-connection.js';

/** The address the proxy should forward to. */
export interface AdvertisedTarget {
  /** Default: `host` when it is a specific address, else the local address of the control connection. */
  host?: string;
  /** Default: the port the server listens on. */
  port?: number;
  /** Default: `https` for an `https.Server`, else `http`. */
  protocol?: 'http' | 'https';
}

/** Longest `startTimeoutMs`, in milliseconds (one day). */
export const MAX_START_TIMEOUT_MS = 86_400_000;

/** Options of {@link ProxyWebServer}; the connection options are documented in {@link ControlClientOptions}. */
export interface ProxyWebServerOptions extends Omit<ControlClientOptions, 'proxyUrl'>, RouteSettingsOptions {
  /**
   * The proxy, or the proxies, to register with: `wss://host:port`, or a list of 1 to 64 entries, each a
   * URL (verified with the top-level `pin`/`ca`/`insecure`) or `{ url, pin?, ca?, insecure? }` with its
   * own verification. One independent session per proxy (own backoff, liveness and registration).
   * Required unless `discovery` is given.
   */
  proxyUrl?: string | ReadonlyArray<string | ProxyEndpoint>;
  /**
   * Find the proxies on the LAN with a cluster secret (docs/discovery.md): every proxy whose sealed
   * beacons (or probe answers, with `probe`) come in is added, authenticated on TLS by the configured
   * `pin`/`ca` or else by the pin its authenticated beacon carries, and in both cases by the mutual
   * channel proof of the secret; a proxy is removed once its beacons stopped AND its session is gone.
   * With discovery alone, `start()` resolves once the server listens (proxies join as they are found).
   * Default none.
   */
  discovery?: AgentDiscoveryOptions;
  /**
   * How many proxies must have acknowledged the registration before `start()` resolves, 1 to the
   * number of proxies. Default: all of them. The others keep retrying in the background. A refusal of
   * the key or scope by any proxy still rejects `start()`.
   */
  minAcks?: number;
  /**
   * Bound on `start()`, in ms, 1 to 86400000: when `minAcks` proxies have not acknowledged by then,
   * `start()` rejects with the last failure's code. Default none: transient failures (429, 503,
   * unreachable proxy) are retried until the registration succeeds or `stop()` is called.
   */
  startTimeoutMs?: number;
  /** This agent's id (the key's id in the proxy's trust store). Required. */
  agentId: string;
  /** The web server to register. Optional when `target` names an existing server (sidecar). */
  server?: http.Server | https.Server;
  /** Port to listen on when the server is not listening yet, 0 to 65535 (0: any free port). Default 0. */
  port?: number;
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Path rules served, e.g. `['/api']` or `[{ path: '/api', host: 'example.com' }]`; 1 to 256. Required. */
  rules: RuleSpec[];
  /** Weight for weighted selection, 1 to 1000. Default: the proxy's (1). */
  weight?: number;
  /** Free-form labels, at most 16 of at most 256 characters. Default none. */
  meta?: Record<string, string>;
  /** Advertised target (see {@link AdvertisedTarget}); required without `server`. */
  target?: AdvertisedTarget;
  /** Reconnect backoff. Defaults: initialDelayMs 250, maxDelayMs 10000, factor 2, jitter 0.5. */
  reconnect?: BackoffOptions;
  /** Wait for an `ack`, in ms, 10 to 600000. Default 10000. */
  requestTimeoutMs?: number;
  /** Wait for `drained` on stop, in ms, 0 to 3600000. Default 30000. */
  drainTimeoutMs?: number;
  /** Grace for in-flight requests after `server.close()`, in ms, 0 to 3600000. Default 5000. */
  closeGraceMs?: number;
  /** Close the server on stop. Default: true when `start()` made it listen, false otherwise. */
  closeServer?: boolean;
  /** Logger; a child `{ component: 'agent', agentId }` is taken. Default silent. */
  logger?: Logger;
  /**
   * Health check of the target (see `target-health-check.ts`): `true` or options for a TCP connect (or
   * HTTP `path`) check every `intervalMs`, or a function returning whether the target is healthy. An
   * unhealthy target receives no new requests until it is healthy again. Default off (the embedded
   * server is this process; the sidecar turns a TCP check on).
   */
  healthCheck?: HealthCheckOption;
}

/** Validated, frozen options. */
export interface ResolvedAgentOptions extends ResolvedControlClientOptions {
  /** Every proxy, in the given order; `proxyUrl`, `pins`, `ca` and `insecure` above are the first one's. */
  readonly proxies: readonly ResolvedProxyEndpoint[];
  /** Acknowledgements `start()` waits for (the number of proxies unless `minAcks` was given). */
  readonly minAcks: number;
  /** Bound on `start()` in ms, or undefined for none. */
  readonly startTimeoutMs: number | undefined;
  /** LAN discovery options (validated when the agent builds its `AgentDiscovery`), or undefined. */
  readonly discovery: AgentDiscoveryOptions | undefined;
  readonly agentId: string;
  readonly server: http.Server | https.Server | undefined;
  readonly port: number;
  readonly host: string;
  readonly rules: readonly RuleSpec[];
  readonly weight: number | undefined;
  readonly meta: Readonly<Record<string, string>> | undefined;
  readonly target: Readonly<AdvertisedTarget> | undefined;
  readonly reconnect: ResolvedBackoffOptions;
  readonly requestTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly closeGraceMs: number;
  readonly closeServer: boolean | undefined;
  readonly routeSettings: ResolvedRouteSettings;
  readonly healthCheck: ResolvedHealthCheck | undefined;
}

function nonEmpty(name: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new InvalidOptionError(`${name}: expected a string of 1 to ${max} characters`);
  }
  return value;
}

function rules(value: unknown): RuleSpec[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 256) throw new InvalidOptionError('rules: expected an array of 1 to 256 rules');
  return value.map((rule, index) => {
    if (typeof rule === 'string') return nonEmpty(`rules[${index}]`, rule, 1024);
    if (typeof rule !== 'object' || rule === null) throw new InvalidOptionError(`rules[${index}]: expected a path string or { path, host? }`);
    const { path, host } = rule as { path?: unknown; host?: unknown };
    const out: { path: string; host?: string } = { path: nonEmpty(`rules[${index}].path`, path, 1024) };
    if (host !== undefined) out.host = nonEmpty(`rules[${index}].host`, host, 253);
    return out;
  });
}

function meta(value: unknown): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidOptionError('meta: expected an object of string labels');
  const entries = Object.entries(value);
  if (entries.length > 16) throw new InvalidOptionError('meta: at most 16 labels');
  for (const [name, label] of entries) {
    if (typeof label !== 'string' || label.length > 256) throw new InvalidOptionError(`meta.${name}: expected a string of at most 256 characters`);
  }
  return Object.freeze(Object.fromEntries(entries) as Record<string, string>);
}

function target(value: unknown): Readonly<AdvertisedTarget> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw new InvalidOptionError('target: expected { host?, port?, protocol? }');
  const { host, port, protocol } = value as AdvertisedTarget;
  const out: AdvertisedTarget = {};
  if (host !== undefined) out.host = nonEmpty('target.host', host, 253);
  if (port !== undefined) out.port = integer('target.port', port, 0, 1, 65_535);
  if (protocol !== undefined) {
    if (protocol !== 'http' && protocol !== 'https') throw new InvalidOptionError('target.protocol: expected "http" or "https"');
    out.protocol = protocol;
  }
  return Object.freeze(out);
}

function isServer(value: unknown): value is http.Server {
  return typeof value === 'object' && value !== null && typeof (value as http.Server).listen === 'function' && typeof (value as http.Server).close === 'function';
}

/**
 * Applies defaults and validates.
 *
 * @throws {InvalidOptionError} | {InvalidIdError} naming the first invalid option.
 */
export function resolveAgentOptions(options: ProxyWebServerOptions): ResolvedAgentOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('ProxyWebServer: options are required');
  const { proxyUrl, discovery, ...defaults } = options;
  if (discovery !== undefined && (typeof discovery !== 'object' || discovery === null)) throw new InvalidOptionError('discovery: expected { secret, ... }');
  if (discovery !== undefined && options.insecure === true) throw new InvalidOptionError('discovery: discovered proxies are always verified on TLS; remove insecure');
  // With discovery alone the list starts empty; the connection defaults still have to be valid, so they
  // are checked against a placeholder URL that is never dialled.
  const proxies = proxyUrl === undefined && discovery !== undefined ? Object.freeze([]) : resolveProxyEndpoints(proxyUrl, defaults);
  const connection = proxies[0]?.connection ?? resolveControlClientOptions({ ...defaults, proxyUrl: 'wss://discovery.invalid/' });
  const agentId = assertValidAgentId(options.agentId);
  if (options.server !== undefined && !isServer(options.server)) throw new InvalidOptionError('server: expected an http.Server or https.Server');
  const resolvedTarget = target(options.target);
  if (options.server === undefined && (resolvedTarget?.host === undefined || resolvedTarget.port === undefined)) {
    throw new InvalidOptionError('target: { host, port } is required when no server is given');
  }
  if (options.closeServer !== undefined && typeof options.closeServer !== 'boolean') throw new InvalidOptionError('closeServer: expected a boolean');
  return Object.freeze({
    ...connection,
    proxies,
    minAcks: proxies.length === 0 ? 0 : integer('minAcks', options.minAcks, proxies.length, 1, proxies.length),
    discovery,
    startTimeoutMs: options.startTimeoutMs === undefined ? undefined : integer('startTimeoutMs', options.startTimeoutMs, 0, 1, MAX_START_TIMEOUT_MS),
    agentId,
    server: options.server,
    port: integer('port', options.port, 0, 0, 65_535),
    host: nonEmpty('host', options.host ?? DEFAULT_AGENT_HOST, 253),
    rules: Object.freeze(rules(options.rules)),
    weight: options.weight === undefined ? undefined : integer('weight', options.weight, 1, 1, 1000),
    meta: meta(options.meta),
    target: resolvedTarget,
    reconnect: resolveBackoffOptions(options.reconnect),
    requestTimeoutMs: integer('requestTimeoutMs', options.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS, 10, 600_000),
    drainTimeoutMs: integer('drainTimeoutMs', options.drainTimeoutMs, DEFAULT_DRAIN_TIMEOUT_MS, 0, 3_600_000),
    closeGraceMs: integer('closeGraceMs', options.closeGraceMs, DEFAULT_CLOSE_GRACE_MS, 0, 3_600_000),
    closeServer: options.closeServer,
    routeSettings: resolveRouteSettings(options),
    healthCheck: resolveHealthCheckOption(options.healthCheck),
  });
}
