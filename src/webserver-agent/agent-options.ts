/**
 * Options of {@link ProxyWebServer} in three steps: `DEFAULT_*` constants, validation (an
 * {@link InvalidOptionError} naming the option and its range), and a frozen resolved object.
 */
import type http from 'node:http';
import type https from 'node:https';
import { InvalidOptionError } from '../shared/errors.js';
import { assertValidAgentId } from '../shared/identity/agent-id.js';
import type { Ed25519PrivateJwk } from '../shared/identity/jwk.js';
import type { Logger } from '../shared/logger.js';
import type { RuleSpec } from '../shared/protocol.js';
import { resolveBackoffOptions, type BackoffOptions, type ResolvedBackoffOptions } from './backoff.js';
import { normalizePin } from '../shared/control-client/proxy-tls.js';

/** Default token audience (the proxy's default). */
export const DEFAULT_AGENT_AUDIENCE = 'inteli-proxy';
/** Default listen address of the web server: loopback, so a backend is not exposed by accident. */
export const DEFAULT_AGENT_HOST = '127.0.0.1';
/** Default wait for an `ack`, in milliseconds. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Default wait for `drained` on stop, in milliseconds. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
/** Default wait for in-flight requests after `server.close()` before the remaining sockets are cut, in ms. */
export const DEFAULT_CLOSE_GRACE_MS = 5000;
/** Default bound on the TCP + TLS + upgrade handshake, in milliseconds. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Default silence (no ping, no frame) after which the connection is considered dead: 3 proxy heartbeats. */
export const DEFAULT_IDLE_TIMEOUT_MS = 15_000;
/** Default lifetime of each dial's token, in seconds. */
export const DEFAULT_AGENT_TOKEN_TTL_SECONDS = 60;
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

/** Options of {@link ProxyWebServer}. */
export interface ProxyWebServerOptions {
  /** Control-plane URL, `wss://host:port` (`ws://` only together with `insecure: true`). Required. */
  proxyUrl: string;
  /** This agent's id (the key's id in the proxy's trust store). Required. */
  agentId: string;
  /** Ed25519 private JWK, or the path of a `.key.json` file. Required. */
  key: Ed25519PrivateJwk | string;
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
  /** SHA-256 pin(s) of the proxy's public key (base64, as the proxy prints it). */
  pin?: string | readonly string[];
  /** CA certificate (PEM text or file path) that signed the proxy's certificate. */
  ca?: string | Buffer;
  /** Do not verify the proxy at all (development only; logs a warning). Default false. */
  insecure?: boolean;
  /** Token audience, 1 to 256 characters. Default `inteli-proxy`. */
  audience?: string;
  /** Reconnect backoff. Defaults: initialDelayMs 250, maxDelayMs 10000, factor 2, jitter 0.5. */
  reconnect?: BackoffOptions;
  /** Wait for an `ack`, in ms, 10 to 600000. Default 10000. */
  requestTimeoutMs?: number;
  /** Wait for `drained` on stop, in ms, 0 to 3600000. Default 30000. */
  drainTimeoutMs?: number;
  /** Grace for in-flight requests after `server.close()`, in ms, 0 to 3600000. Default 5000. */
  closeGraceMs?: number;
  /** Handshake bound (TCP, TLS, upgrade), in ms, 10 to 600000. Default 10000. */
  handshakeTimeoutMs?: number;
  /** Silence after which the control connection is dropped and redialled, in ms; 0 disables. Default 15000. */
  idleTimeoutMs?: number;
  /** Lifetime of each dial's token, 1 to 120 s. Default 60. */
  tokenTtlSeconds?: number;
  /** Close the server on stop. Default: true when `start()` made it listen, false otherwise. */
  closeServer?: boolean;
  /** Logger; a child `{ component: 'agent', agentId }` is taken. Default silent. */
  logger?: Logger;
}

/** Validated, frozen options. */
export interface ResolvedAgentOptions {
  readonly proxyUrl: URL;
  readonly agentId: string;
  readonly key: Ed25519PrivateJwk | string;
  readonly server: http.Server | https.Server | undefined;
  readonly port: number;
  readonly host: string;
  readonly rules: readonly RuleSpec[];
  readonly weight: number | undefined;
  readonly meta: Readonly<Record<string, string>> | undefined;
  readonly target: Readonly<AdvertisedTarget> | undefined;
  readonly pins: readonly string[] | undefined;
  readonly ca: string | Buffer | undefined;
  readonly insecure: boolean;
  readonly audience: string;
  readonly reconnect: ResolvedBackoffOptions;
  readonly requestTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly closeGraceMs: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly tokenTtlSeconds: number;
  readonly closeServer: boolean | undefined;
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isInteger(resolved) || resolved < min || resolved > max) {
    throw new InvalidOptionError(`${name}: expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return resolved;
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
  let proxyUrl: URL;
  try {
    proxyUrl = new URL(nonEmpty('proxyUrl', options.proxyUrl, 2048));
  } catch (error) {
    throw new InvalidOptionError(`proxyUrl: expected wss://host:port, got ${JSON.stringify(String(options.proxyUrl)).slice(0, 80)}`, { cause: error });
  }
  const insecure = options.insecure === true;
  if (proxyUrl.protocol !== 'wss:' && !(proxyUrl.protocol === 'ws:' && insecure)) {
    throw new InvalidOptionError('proxyUrl: expected a wss:// URL (ws:// only with insecure: true, for development)');
  }
  const agentId = assertValidAgentId(options.agentId);
  if (typeof options.key !== 'string' && (typeof options.key !== 'object' || options.key === null)) {
    throw new InvalidOptionError('key: expected an Ed25519 private JWK or the path of a .key.json file');
  }
  if (options.server !== undefined && !isServer(options.server)) throw new InvalidOptionError('server: expected an http.Server or https.Server');
  const resolvedTarget = target(options.target);
  if (options.server === undefined && (resolvedTarget?.host === undefined || resolvedTarget.port === undefined)) {
    throw new InvalidOptionError('target: { host, port } is required when no server is given');
  }
  const pinList = options.pin === undefined ? undefined : Array.isArray(options.pin) ? options.pin : [options.pin];
  const pins = pinList?.map((pin, index) => {
    const normalized = normalizePin(pin);
    if (normalized === undefined) throw new InvalidOptionError(`pin${pinList.length > 1 ? `[${index}]` : ''}: expected a base64 SHA-256 public-key pin (44 characters)`);
    return normalized;
  });
  if (pins !== undefined && pins.length === 0) throw new InvalidOptionError('pin: expected at least one pin');
  if (options.ca !== undefined && !(typeof options.ca === 'string' && options.ca.length > 0) && !Buffer.isBuffer(options.ca)) {
    throw new InvalidOptionError('ca: expected PEM text, a Buffer or a file path');
  }
  const modes = [pins !== undefined, options.ca !== undefined, insecure].filter(Boolean).length;
  if (modes > 1) throw new InvalidOptionError('pin, ca and insecure are exclusive: pick one way to verify the proxy');
  if (options.closeServer !== undefined && typeof options.closeServer !== 'boolean') throw new InvalidOptionError('closeServer: expected a boolean');
  return Object.freeze({
    proxyUrl,
    agentId,
    key: options.key,
    server: options.server,
    port: integer('port', options.port, 0, 0, 65_535),
    host: nonEmpty('host', options.host ?? DEFAULT_AGENT_HOST, 253),
    rules: Object.freeze(rules(options.rules)),
    weight: options.weight === undefined ? undefined : integer('weight', options.weight, 1, 1, 1000),
    meta: meta(options.meta),
    target: resolvedTarget,
    pins: pins === undefined ? undefined : Object.freeze(pins),
    ca: options.ca,
    insecure,
    audience: nonEmpty('audience', options.audience ?? DEFAULT_AGENT_AUDIENCE, 256),
    reconnect: resolveBackoffOptions(options.reconnect),
    requestTimeoutMs: integer('requestTimeoutMs', options.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS, 10, 600_000),
    drainTimeoutMs: integer('drainTimeoutMs', options.drainTimeoutMs, DEFAULT_DRAIN_TIMEOUT_MS, 0, 3_600_000),
    closeGraceMs: integer('closeGraceMs', options.closeGraceMs, DEFAULT_CLOSE_GRACE_MS, 0, 3_600_000),
    handshakeTimeoutMs: integer('handshakeTimeoutMs', options.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS, 10, 600_000),
    idleTimeoutMs: integer('idleTimeoutMs', options.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS, 0, 3_600_000),
    tokenTtlSeconds: integer('tokenTtlSeconds', options.tokenTtlSeconds, DEFAULT_AGENT_TOKEN_TTL_SECONDS, 1, 120),
    closeServer: options.closeServer,
  });
}
