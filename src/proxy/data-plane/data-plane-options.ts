/**
 * Options of the data plane in three steps (fastify, undici): `DEFAULT_*` constants, validation that
 * names the option and its range, and a frozen resolved object.
 */
import { randomBytes } from 'node:crypto';
import { InvalidOptionError } from '../../shared/errors.js';
import type { AffinityMode } from '../registry/backend.js';
import { type Logger, silentLogger } from '../../shared/logger.js';
import { resolveSelector } from './selectors/index.js';
import type { ProxySelectorFactory, ProxySelectorName } from './selectors/proxy-selector.js';
import { type TrustedProxies, trustedProxies } from './trusted-proxies.js';

/** Default listen address of the HTTP and HTTPS listeners (all interfaces). */
export const DEFAULT_HOST = '0.0.0.0';
/** Default HTTP port. */
export const DEFAULT_PORT = 3080;
/** Default HTTPS port (used only when `tls` is given). */
export const DEFAULT_TLS_PORT = 3443;
/** Default status of NO_ROUTE / NO_TARGET answers. */
export const DEFAULT_NO_TARGET_STATUS = 403;
/** Default time to establish an upstream connection, in milliseconds. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Default time to wait for upstream response headers, in milliseconds (exceeded -> 504). */
export const DEFAULT_RESPONSE_TIMEOUT_MS = 60_000;
/** Default longest silence between upstream response body chunks, in milliseconds. */
export const DEFAULT_BODY_TIMEOUT_MS = 60_000;
/** Default idle time of a pooled upstream connection, in milliseconds (below Node's 5 s server default). */
export const DEFAULT_UPSTREAM_KEEP_ALIVE_TIMEOUT_MS = 4_000;
/** Default most connections per upstream origin. */
export const DEFAULT_CONNECTIONS_PER_ORIGIN = 128;
/** Default consecutive connect failures that eject an upstream. */
export const DEFAULT_EJECT_AFTER_FAILURES = 3;
/** Default ejection period, in milliseconds. */
export const DEFAULT_EJECT_DURATION_MS = 10_000;
/** Default bound on a graceful stop, in milliseconds. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
/** Default time a client has to send a whole request, in milliseconds (Node's default). */
export const DEFAULT_CLIENT_REQUEST_TIMEOUT_MS = 300_000;
/** Default time a client has to send the request headers, in milliseconds (slowloris guard). */
export const DEFAULT_CLIENT_HEADERS_TIMEOUT_MS = 60_000;
/** Default idle time of a client keep-alive connection, in milliseconds. */
export const DEFAULT_CLIENT_KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Default largest request header block, in bytes (Node's default). */
export const DEFAULT_MAX_HEADER_SIZE = 16_384;
/** Default session affinity of a route whose backends ask for none. */
export const DEFAULT_AFFINITY = 'none';
/** Shortest accepted affinity secret, in bytes (HMAC-SHA256 keys shorter than this are guessable). */
export const MIN_AFFINITY_SECRET_BYTES = 16;
/** Bytes of the random affinity secret made when none is given. */
export const DEFAULT_AFFINITY_SECRET_BYTES = 32;

/** Default most open tunnels (WebSocket and other upgrades) per target origin. */
export const DEFAULT_MAX_TUNNELS_PER_TARGET = 1024;
/** Default most concurrent HTTP/2 streams per client session (nginx: 128). */
export const DEFAULT_H2_MAX_CONCURRENT_STREAMS = 100;
/** What a proxy id may look like: a `Via` pseudonym (RFC 9110 section 7.6.3), one token. */
const PROXY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A fresh proxy id, `inteli-` and 12 random hex digits: unique enough to recognise our own `Via` entry. */
export function generateProxyId(): string {
  return `inteli-${randomBytes(6).toString('hex')}`;
}

/** What the optional access log writes. */
export interface AccessLogOptions {
  /** Log the query string too (it may carry tokens or personal data). Default false: the path only. */
  query?: boolean;
}

/** A PEM certificate and key, as strings or buffers. */
export interface TlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

/** What a caller may pass. Every field is optional; the default is stated on each. */
export interface DataPlaneOptions {
  /** Listen address of the HTTP and HTTPS listeners. Default `0.0.0.0`. */
  host?: string;
  /** HTTP port; 0 picks a free port. Default 3080. */
  port?: number;
  /** HTTPS port; 0 picks a free port. Used only with `tls`. Default 3443. */
  tlsPort?: number;
  /** Certificate and key of the HTTPS listener. Default none (no HTTPS listener). */
  tls?: TlsOptions | undefined;
  /** Offer HTTP/2 (ALPN `h2`, with HTTP/1.1 fallback) on the HTTPS listener. Default true. */
  http2?: boolean;
  /** Most concurrent streams per HTTP/2 session, 1 to 10000. Default 100. */
  h2MaxConcurrentStreams?: number;
  /** Selection policy: a built-in name or a factory. Default `'round-robin'`. */
  selector?: ProxySelectorName | ProxySelectorFactory;
  /** Status of NO_ROUTE and NO_TARGET answers, 400 to 599. Default 403. */
  noTargetStatus?: number;
  /** IPs and CIDRs of proxies in front whose X-Forwarded-* headers are kept. Default none. */
  trustedProxies?: readonly string[];
  /** Upstream connect timeout in ms (exceeded -> 502). Default 5000. */
  connectTimeoutMs?: number;
  /**
   * Upstream response-headers timeout in ms (exceeded -> 504). Default 60000. undici checks its timers
   * about once a second, so a timeout fires up to about a second late.
   */
  responseTimeoutMs?: number;
  /**
   * Longest silence between upstream body chunks in ms; 0 disables it. A route's backends may set their
   * own at registration. `text/event-stream` responses and upgraded connections never have one (a quiet
   * stream is not a failure). A response cut by it ends the client connection and counts as `cut`.
   * Default 60000.
   */
  bodyTimeoutMs?: number;
  /**
   * Session affinity of routes whose backends ask for none: `none`, `cookie` (a signed cookie names the
   * target) or `hash` (consistent hashing of the client address, or of `affinityHeader`). Default `none`.
   */
  affinity?: AffinityMode | 'none';
  /** With `affinity: 'hash'`: hash this request header instead of the client address. Default none. */
  affinityHeader?: string;
  /**
   * Key of the affinity cookies' HMAC, at least 16 bytes (a string is taken as UTF-8). Give the same one
   * to proxies that share clients so their cookies are valid on each other. Default 32 random bytes per
   * proxy (a restart invalidates the cookies: clients simply get a fresh pick).
   */
  affinitySecret?: string | Buffer;
  /** Idle time of pooled upstream connections in ms. Default 4000. */
  upstreamKeepAliveTimeoutMs?: number;
  /** Most connections per upstream origin, 1 to 65536. Default 128. */
  connectionsPerOrigin?: number;
  /**
   * Retry a GET/HEAD/OPTIONS/PUT/DELETE once on another upstream after a connect failure, or after the
   * upstream connection was reset before any response byte (RFC 9110 section 9.2.2). Default true.
   */
  retry?: boolean;
  /** Consecutive connect failures that eject an upstream; 0 disables ejection. Default 3. */
  ejectAfterFailures?: number;
  /** How long an ejected upstream is skipped, in ms. Default 10000. */
  ejectDurationMs?: number;
  /** Bound on in-flight work during `stop()`, in ms; then sockets are destroyed. Default 10000. */
  shutdownTimeoutMs?: number;
  /**
   * Log one line per forwarded request at info level: `true` logs the path without its query string,
   * `{ query: true }` the query too. Default false.
   */
  accessLog?: boolean | AccessLogOptions;
  /**
   * This proxy's id in `Via` (`Via: 1.1 <proxyId>`): a request that already carries it is a forwarding
   * loop and is answered 508. Share one id between the processes of one proxy. Default a random
   * `inteli-<12 hex digits>`, made once per options object.
   */
  proxyId?: string;
  /**
   * Most open tunnels (WebSocket and other upgrades) per target origin, 1 to 1048576; a further upgrade
   * gets 503 `TUNNEL_LIMIT`, so one target cannot take every file descriptor. Default 1024.
   */
  maxTunnelsPerTarget?: number;
  /**
   * Time a client has to send a whole request, in ms (Node `requestTimeout`); a slow body is cut within
   * this deadline plus at most 1 s and its upstream request aborted. Default 300000.
   */
  clientRequestTimeoutMs?: number;
  /**
   * Time a client has to send the request headers, in ms (Node `headersTimeout`); a slowloris client is
   * cut within this deadline plus at most 1 s (the sweep interval). It also bounds the TLS handshake on
   * the HTTPS listener. Default 60000.
   */
  clientHeadersTimeoutMs?: number;
  /** Idle time of client keep-alive connections, in ms. Default 5000. */
  clientKeepAliveTimeoutMs?: number;
  /** Largest request header block in bytes, 1024 to 1048576. Default 16384. */
  maxHeaderSize?: number;
  /** Verify the certificates of `https` targets. Default true. */
  upstreamRejectUnauthorized?: boolean;
  /** Extra CA certificates (PEM) trusted for `https` targets. Default none (system CAs). */
  upstreamCa?: string | Buffer | undefined;
  /** pino logger; the data plane logs through a child. Default silent. */
  logger?: Logger;
}

/** The validated, frozen options. */
export interface ResolvedDataPlaneOptions {
  readonly host: string;
  readonly port: number;
  readonly tlsPort: number;
  readonly tls: TlsOptions | undefined;
  readonly http2: boolean;
  readonly h2MaxConcurrentStreams: number;
  readonly selector: ProxySelectorFactory;
  readonly noTargetStatus: number;
  readonly trustedProxies: TrustedProxies;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly affinity: AffinityMode | 'none';
  readonly affinityHeader: string | undefined;
  readonly affinitySecret: Buffer;
  readonly upstreamKeepAliveTimeoutMs: number;
  readonly connectionsPerOrigin: number;
  readonly retry: boolean;
  readonly ejectAfterFailures: number;
  readonly ejectDurationMs: number;
  readonly shutdownTimeoutMs: number;
  readonly accessLog: boolean;
  /** Whether the access log includes the query string. */
  readonly accessLogQuery: boolean;
  readonly proxyId: string;
  readonly maxTunnelsPerTarget: number;
  readonly clientRequestTimeoutMs: number;
  readonly clientHeadersTimeoutMs: number;
  readonly clientKeepAliveTimeoutMs: number;
  readonly maxHeaderSize: number;
  readonly upstreamRejectUnauthorized: boolean;
  readonly upstreamCa: string | Buffer | undefined;
  readonly logger: Logger;
}

/** Longest timeout, in milliseconds (the largest delay a Node timer accepts). */
export const MAX_TIMEOUT_MS = 2_147_483_647;

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function boolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidOptionError(`${name} must be a boolean, got ${JSON.stringify(value)}`);
  return value;
}

function pem(name: string, value: unknown): string | Buffer {
  if ((typeof value === 'string' && value.length > 0) || (Buffer.isBuffer(value) && value.length > 0)) return value;
  throw new InvalidOptionError(`${name} must be a non-empty PEM string or Buffer`);
}

function host(value: unknown): string {
  if (value === undefined) return DEFAULT_HOST;
  if (typeof value !== 'string' || !/^[A-Za-z0-9.:\-[\]]{1,253}$/.test(value)) {
    throw new InvalidOptionError(`host must be a host name or IP address, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A lower-case RFC 9110 token of at most 64 characters (header names for hash affinity). */
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]{1,64}$/;

function affinity(value: unknown): AffinityMode | 'none' {
  if (value === undefined) return DEFAULT_AFFINITY;
  if (value !== 'none' && value !== 'cookie' && value !== 'hash') throw new InvalidOptionError(`affinity must be 'none', 'cookie' or 'hash', got ${JSON.stringify(value)}`);
  return value;
}

function affinityHeader(value: unknown, mode: AffinityMode | 'none'): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !HEADER_NAME.test(value.toLowerCase())) throw new InvalidOptionError(`affinityHeader must be a header name of 1 to 64 token characters, got ${JSON.stringify(value)}`);
  if (mode !== 'hash') throw new InvalidOptionError("affinityHeader needs affinity: 'hash'");
  return value.toLowerCase();
}

function affinitySecret(value: unknown): Buffer {
  if (value === undefined) return randomBytes(DEFAULT_AFFINITY_SECRET_BYTES);
  const secret = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.isBuffer(value) ? Buffer.from(value) : undefined;
  if (secret === undefined || secret.length < MIN_AFFINITY_SECRET_BYTES) {
    throw new InvalidOptionError(`affinitySecret must be a string or Buffer of at least ${MIN_AFFINITY_SECRET_BYTES} bytes`);
  }
  return secret;
}

function accessLog(value: unknown): { accessLog: boolean; accessLogQuery: boolean } {
  if (value === undefined || typeof value === 'boolean') return { accessLog: value === true, accessLogQuery: false };
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { query, ...rest } = value as Record<string, unknown>;
    if (Object.keys(rest).length === 0 && (query === undefined || typeof query === 'boolean')) return { accessLog: true, accessLogQuery: query === true };
  }
  throw new InvalidOptionError(`accessLog must be a boolean or { query?: boolean }, got ${JSON.stringify(value)}`);
}

function proxyId(value: unknown): string {
  if (value === undefined) return generateProxyId();
  if (typeof value !== 'string' || !PROXY_ID.test(value)) {
    throw new InvalidOptionError(`proxyId must match ${PROXY_ID.source} (one Via token), got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Applies defaults, validates and freezes. @throws {InvalidOptionError} naming the option. */
export function resolveDataPlaneOptions(options: DataPlaneOptions = {}): ResolvedDataPlaneOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options must be an object');
  const tls = options.tls === undefined ? undefined : Object.freeze({ cert: pem('tls.cert', options.tls.cert), key: pem('tls.key', options.tls.key) });
  const proxies = options.trustedProxies ?? [];
  if (!Array.isArray(proxies)) throw new InvalidOptionError('trustedProxies must be an array of IPs and CIDRs');
  if (options.logger !== undefined && (typeof options.logger !== 'object' || typeof options.logger.child !== 'function')) {
    throw new InvalidOptionError('logger must be a pino Logger');
  }
  const clientRequestTimeoutMs = integer('clientRequestTimeoutMs', options.clientRequestTimeoutMs, DEFAULT_CLIENT_REQUEST_TIMEOUT_MS, 0, MAX_TIMEOUT_MS);
  const clientHeadersTimeoutMs = integer('clientHeadersTimeoutMs', options.clientHeadersTimeoutMs, DEFAULT_CLIENT_HEADERS_TIMEOUT_MS, 1, MAX_TIMEOUT_MS);
  // Node refuses a headers timeout longer than the whole-request timeout.
  if (clientRequestTimeoutMs > 0 && clientHeadersTimeoutMs > clientRequestTimeoutMs) {
    throw new InvalidOptionError(`clientHeadersTimeoutMs (${clientHeadersTimeoutMs}) must not exceed clientRequestTimeoutMs (${clientRequestTimeoutMs})`);
  }
  const mode = affinity(options.affinity);
  return Object.freeze({
    host: host(options.host),
    port: integer('port', options.port, DEFAULT_PORT, 0, 65535),
    tlsPort: integer('tlsPort', options.tlsPort, DEFAULT_TLS_PORT, 0, 65535),
    tls,
    http2: boolean('http2', options.http2, true),
    h2MaxConcurrentStreams: integer('h2MaxConcurrentStreams', options.h2MaxConcurrentStreams, DEFAULT_H2_MAX_CONCURRENT_STREAMS, 1, 10_000),
    selector: resolveSelector(options.selector ?? 'round-robin'),
    noTargetStatus: integer('noTargetStatus', options.noTargetStatus, DEFAULT_NO_TARGET_STATUS, 400, 599),
    trustedProxies: trustedProxies(proxies),
    connectTimeoutMs: integer('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, 1, MAX_TIMEOUT_MS),
    responseTimeoutMs: integer('responseTimeoutMs', options.responseTimeoutMs, DEFAULT_RESPONSE_TIMEOUT_MS, 1, MAX_TIMEOUT_MS),
    bodyTimeoutMs: integer('bodyTimeoutMs', options.bodyTimeoutMs, DEFAULT_BODY_TIMEOUT_MS, 0, MAX_TIMEOUT_MS),
    affinity: mode,
    affinityHeader: affinityHeader(options.affinityHeader, mode),
    affinitySecret: affinitySecret(options.affinitySecret),
    upstreamKeepAliveTimeoutMs: integer('upstreamKeepAliveTimeoutMs', options.upstreamKeepAliveTimeoutMs, DEFAULT_UPSTREAM_KEEP_ALIVE_TIMEOUT_MS, 1, MAX_TIMEOUT_MS),
    connectionsPerOrigin: integer('connectionsPerOrigin', options.connectionsPerOrigin, DEFAULT_CONNECTIONS_PER_ORIGIN, 1, 65536),
    retry: boolean('retry', options.retry, true),
    ejectAfterFailures: integer('ejectAfterFailures', options.ejectAfterFailures, DEFAULT_EJECT_AFTER_FAILURES, 0, 1000),
    ejectDurationMs: integer('ejectDurationMs', options.ejectDurationMs, DEFAULT_EJECT_DURATION_MS, 1, MAX_TIMEOUT_MS),
    shutdownTimeoutMs: integer('shutdownTimeoutMs', options.shutdownTimeoutMs, DEFAULT_SHUTDOWN_TIMEOUT_MS, 0, MAX_TIMEOUT_MS),
    ...accessLog(options.accessLog),
    proxyId: proxyId(options.proxyId),
    maxTunnelsPerTarget: integer('maxTunnelsPerTarget', options.maxTunnelsPerTarget, DEFAULT_MAX_TUNNELS_PER_TARGET, 1, 1_048_576),
    clientRequestTimeoutMs,
    clientHeadersTimeoutMs,
    clientKeepAliveTimeoutMs: integer('clientKeepAliveTimeoutMs', options.clientKeepAliveTimeoutMs, DEFAULT_CLIENT_KEEP_ALIVE_TIMEOUT_MS, 0, MAX_TIMEOUT_MS),
    maxHeaderSize: integer('maxHeaderSize', options.maxHeaderSize, DEFAULT_MAX_HEADER_SIZE, 1024, 1_048_576),
    upstreamRejectUnauthorized: boolean('upstreamRejectUnauthorized', options.upstreamRejectUnauthorized, true),
    upstreamCa: options.upstreamCa === undefined ? undefined : pem('upstreamCa', options.upstreamCa),
    logger: options.logger ?? silentLogger(),
  });
}
