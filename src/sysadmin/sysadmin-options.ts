/**
 * Options of {@link ProxySysAdmin} in three steps: `DEFAULT_*` constants, validation (an
 * {@link InvalidOptionError} naming the option and its range), and a frozen resolved object.
 */
import { normalizePin } from '../shared/control-client/proxy-tls.js';
import { InvalidOptionError } from '../shared/errors.js';
import { assertValidAgentId } from '../shared/identity/agent-id.js';
import type { Ed25519PrivateJwk } from '../shared/identity/jwk.js';
import type { Logger } from '../shared/logger.js';

/** Default token audience (the proxy's default). */
export const DEFAULT_SYSADMIN_AUDIENCE = 'inteli-proxy';
/** Default wait for the proxy's answer to one request, in milliseconds. */
export const DEFAULT_SYSADMIN_REQUEST_TIMEOUT_MS = 10_000;
/** Default bound on the TCP + TLS + upgrade handshake, in milliseconds. */
export const DEFAULT_SYSADMIN_HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * Default silence after which the connection is considered dead, in milliseconds: three of the proxy's
 * default heartbeats, as for agents. A dead connection rejects the pending requests at once instead of
 * letting each wait for its own timeout.
 */
export const DEFAULT_SYSADMIN_IDLE_TIMEOUT_MS = 15_000;
/** Default lifetime of the dial's token, in seconds (it is used once, at the upgrade). */
export const DEFAULT_SYSADMIN_TOKEN_TTL_SECONDS = 60;

/** Options of {@link ProxySysAdmin}. */
export interface ProxySysAdminOptions {
  /** Control-plane URL, e.g. `wss://proxy.example:3042` (`ws://` only together with `insecure: true`). Required. */
  proxyUrl: string;
  /** Id of the admin key in the proxy's trust store (its role must be `admin`). Required. */
  adminId: string;
  /** The admin's Ed25519 private JWK, or the path of its `.key.json` file. Required. */
  key: Ed25519PrivateJwk | string;
  /** SHA-256 pin(s) of the proxy's public key (base64, as the proxy prints it at start). */
  pin?: string | readonly string[];
  /** CA certificate (PEM text, Buffer or file path) that signed the proxy's certificate. */
  ca?: string | Buffer;
  /** Do not verify the proxy at all (development only; logs a warning). Default false. */
  insecure?: boolean;
  /** Token audience, 1 to 256 characters. Default `inteli-proxy`. */
  audience?: string;
  /** Wait for each answer, in ms, 10 to 600000. Default 10000. */
  requestTimeoutMs?: number;
  /** Handshake bound (TCP, TLS, upgrade), in ms, 10 to 600000. Default 10000. */
  handshakeTimeoutMs?: number;
  /** Silence after which the connection is dropped, in ms; 0 disables. Default 15000. */
  idleTimeoutMs?: number;
  /** Lifetime of each dial's token, 1 to 120 s. Default 60. */
  tokenTtlSeconds?: number;
  /** Logger; a child `{ component: 'sysadmin', adminId }` is taken. Default silent. */
  logger?: Logger;
}

/** Validated, frozen options. */
export interface ResolvedSysAdminOptions {
  readonly proxyUrl: URL;
  readonly adminId: string;
  readonly key: Ed25519PrivateJwk | string;
  readonly pins: readonly string[] | undefined;
  readonly ca: string | Buffer | undefined;
  readonly insecure: boolean;
  readonly audience: string;
  readonly requestTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly tokenTtlSeconds: number;
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isInteger(resolved) || resolved < min || resolved > max) {
    throw new InvalidOptionError(`${name}: expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return resolved;
}

function url(value: unknown, insecure: boolean): URL {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) {
    throw new InvalidOptionError('proxyUrl: expected wss://host:port');
  }
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch (error) {
    throw new InvalidOptionError(`proxyUrl: expected wss://host:port, got ${JSON.stringify(value.slice(0, 80))}`, { cause: error });
  }
  if (parsed.protocol !== 'wss:' && !(parsed.protocol === 'ws:' && insecure)) {
    throw new InvalidOptionError('proxyUrl: expected a wss:// URL (ws:// only with insecure: true, for development)');
  }
  return parsed;
}

function pins(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new InvalidOptionError('pin: expected at least one pin');
  return list.map((pin, index) => {
    const normalized = normalizePin(pin);
    if (normalized === undefined) {
      throw new InvalidOptionError(`pin${list.length > 1 ? `[${index}]` : ''}: expected a base64 SHA-256 public-key pin (44 characters)`);
    }
    return normalized;
  });
}

/**
 * Applies defaults and validates.
 *
 * @throws {InvalidOptionError} | {InvalidIdError} naming the first invalid option.
 */
export function resolveSysAdminOptions(options: ProxySysAdminOptions): ResolvedSysAdminOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('ProxySysAdmin: options are required');
  if (options.insecure !== undefined && typeof options.insecure !== 'boolean') throw new InvalidOptionError('insecure: expected a boolean');
  const insecure = options.insecure === true;
  const proxyUrl = url(options.proxyUrl, insecure);
  const adminId = assertValidAgentId(options.adminId);
  if (!(typeof options.key === 'string' && options.key.length > 0) && (typeof options.key !== 'object' || options.key === null)) {
    throw new InvalidOptionError('key: expected an Ed25519 private JWK or the path of a .key.json file');
  }
  const pinList = pins(options.pin);
  if (options.ca !== undefined && !(typeof options.ca === 'string' && options.ca.length > 0) && !Buffer.isBuffer(options.ca)) {
    throw new InvalidOptionError('ca: expected PEM text, a Buffer or a file path');
  }
  if ([pinList !== undefined, options.ca !== undefined, insecure].filter(Boolean).length > 1) {
    throw new InvalidOptionError('pin, ca and insecure are exclusive: pick one way to verify the proxy');
  }
  const audience = options.audience ?? DEFAULT_SYSADMIN_AUDIENCE;
  if (typeof audience !== 'string' || audience.length === 0 || audience.length > 256) {
    throw new InvalidOptionError('audience: expected a string of 1 to 256 characters');
  }
  return Object.freeze({
    proxyUrl,
    adminId,
    key: options.key,
    pins: pinList === undefined ? undefined : Object.freeze(pinList),
    ca: options.ca,
    insecure,
    audience,
    requestTimeoutMs: integer('requestTimeoutMs', options.requestTimeoutMs, DEFAULT_SYSADMIN_REQUEST_TIMEOUT_MS, 10, 600_000),
    handshakeTimeoutMs: integer('handshakeTimeoutMs', options.handshakeTimeoutMs, DEFAULT_SYSADMIN_HANDSHAKE_TIMEOUT_MS, 10, 600_000),
    idleTimeoutMs: integer('idleTimeoutMs', options.idleTimeoutMs, DEFAULT_SYSADMIN_IDLE_TIMEOUT_MS, 0, 3_600_000),
    tokenTtlSeconds: integer('tokenTtlSeconds', options.tokenTtlSeconds, DEFAULT_SYSADMIN_TOKEN_TTL_SECONDS, 1, 120),
  });
}
