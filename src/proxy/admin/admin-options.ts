/**
 * Options of the admin listener (health, readiness, metrics, status API and status page): defaults,
 * validation, freeze. The listener is off in the library (`admin: false`, so tests and embedders never
 * collide on a fixed port) and on in `npm start` (`PROXY_ADMIN_HOST`/`PROXY_ADMIN_PORT`).
 */
import { isIP } from 'node:net';
import { InvalidOptionError } from '../../shared/errors.js';

/** Default admin address: loopback only. */
export const DEFAULT_ADMIN_HOST = '127.0.0.1';
/** Default admin port. */
export const DEFAULT_ADMIN_PORT = 3090;
/**
 * Default `aud` of admin-listener tokens. Deliberately not the control plane's audience: the admin
 * listener speaks plain HTTP and accepts a token more than once, so a token seen there must never open a
 * control session (and a control token must not be replayable here).
 */
export const DEFAULT_ADMIN_AUDIENCE = 'inteli-proxy-admin';
/** Default interval of the request-rate sampler behind the status page's chart, in milliseconds. */
export const DEFAULT_SAMPLE_INTERVAL_MS = 5_000;
/** Default number of rate samples kept (60 x 5 s = the last 5 minutes). */
export const DEFAULT_HISTORY_SAMPLES = 60;
/** Default number of control events kept for the status API. */
export const DEFAULT_EVENT_BUFFER_SIZE = 200;

/** Options of the admin listener. Every field is optional and states its default. */
export interface AdminOptions {
  /** Address to bind. Default `127.0.0.1`. Anything but a loopback address requires auth. */
  host?: string;
  /** Port, 0 (any free port) to 65535. Default 3090. */
  port?: number;
  /**
   * Require `Authorization: Bearer <JWT>` of an admin key on every endpoint except `/healthz`,
   * `/readyz` and the (data-free) page shell at `/`. Default: true unless `host` is a loopback address.
   * Cannot be turned off for a non-loopback host.
   */
  requireAuth?: boolean;
  /** The `aud` admin tokens must carry. Default `inteli-proxy-admin`. */
  audience?: string;
  /**
   * Host names (or addresses) besides loopback ones that unauthenticated requests may name in `Host`
   * (against DNS rebinding: a browser page whose name resolves to 127.0.0.1 sends its own name). At most
   * 64. Default none: only `localhost`, `127.0.0.0/8` and `[::1]`.
   */
  allowedHosts?: readonly string[];
  /** Request-rate sampling interval in milliseconds, 100 to 60,000. Default 5,000. */
  sampleIntervalMs?: number;
  /** Rate samples kept, 2 to 10,000. Default 60. */
  historySamples?: number;
  /** Control events kept, 1 to 10,000. Default 200. */
  eventBufferSize?: number;
}

/** The validated, frozen admin options. */
export interface ResolvedAdminOptions {
  readonly host: string;
  readonly port: number;
  readonly requireAuth: boolean;
  readonly audience: string;
  readonly allowedHosts: readonly string[];
  readonly sampleIntervalMs: number;
  readonly historySamples: number;
  readonly eventBufferSize: number;
}

/** True for `localhost`, `127.0.0.0/8` and `::1` (the addresses only this machine can reach). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isInteger(resolved) || resolved < min || resolved > max) {
    throw new InvalidOptionError(`admin.${name}: expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return resolved;
}

/** Applies defaults, validates and freezes. @throws {InvalidOptionError} naming the option. */
export function resolveAdminOptions(options: AdminOptions): ResolvedAdminOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('admin: expected an options object or false');
  }
  const host = options.host ?? DEFAULT_ADMIN_HOST;
  if (typeof host !== 'string' || host.length === 0 || host.length > 255 || /[\s/]/.test(host)) {
    throw new InvalidOptionError('admin.host: expected a host name or IP address');
  }
  const loopback = isLoopbackHost(host);
  const requireAuth = options.requireAuth ?? !loopback;
  if (typeof requireAuth !== 'boolean') throw new InvalidOptionError('admin.requireAuth: expected a boolean');
  if (!requireAuth && !loopback) {
    throw new InvalidOptionError(`admin.requireAuth: cannot be false when admin.host (${host}) is not a loopback address`);
  }
  const audience = options.audience ?? DEFAULT_ADMIN_AUDIENCE;
  if (typeof audience !== 'string' || audience.length === 0 || audience.length > 256) {
    throw new InvalidOptionError('admin.audience: expected a string of 1 to 256 characters');
  }
  const allowedHosts = options.allowedHosts ?? [];
  if (
    !Array.isArray(allowedHosts) ||
    allowedHosts.length > 64 ||
    allowedHosts.some((entry) => typeof entry !== 'string' || !/^[A-Za-z0-9.:\-[\]]{1,255}$/.test(entry))
  ) {
    throw new InvalidOptionError('admin.allowedHosts: expected at most 64 host names or IP addresses');
  }
  return Object.freeze({
    host,
    port: integer('port', options.port, DEFAULT_ADMIN_PORT, 0, 65_535),
    requireAuth,
    audience,
    allowedHosts: Object.freeze(allowedHosts.map((entry: string) => entry.toLowerCase())),
    sampleIntervalMs: integer('sampleIntervalMs', options.sampleIntervalMs, DEFAULT_SAMPLE_INTERVAL_MS, 100, 60_000),
    historySamples: integer('historySamples', options.historySamples, DEFAULT_HISTORY_SAMPLES, 2, 10_000),
    eventBufferSize: integer('eventBufferSize', options.eventBufferSize, DEFAULT_EVENT_BUFFER_SIZE, 1, 10_000),
  });
}
