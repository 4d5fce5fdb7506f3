/**
 * The options every client of the control plane shares (the agent's and the sysadmin's): where the proxy
 * is, the key that signs the dial's token, how the proxy is verified, and the connection's bounds. In
 * three steps, as elsewhere: `DEFAULT_*` constants, validation (an {@link InvalidOptionError} naming the
 * option and its range), and a frozen resolved object the client spreads into its own.
 */
import type { TLSSocket } from 'node:tls';
import { InvalidOptionError } from '../errors.js';
import { AUDIENCE_PREFIX } from '../identity/proxy-audience.js';
import type { Ed25519PrivateJwk } from '../identity/jwk.js';
import { normalizePin } from './proxy-tls.js';

/**
 * Prefix of the default token audience. By default a client signs each dial's token for
 * `inteli-proxy:<pin>`, the pin of the certificate the proxy presented on that very connection (see
 * `shared/identity/proxy-audience.ts`); over plain `ws://` for `inteli-proxy`.
 */
export const DEFAULT_CLIENT_AUDIENCE = AUDIENCE_PREFIX;
/** Default bound on the TCP + TLS + upgrade handshake, in milliseconds. */
export const DEFAULT_CLIENT_HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * Default silence (no ping, no frame) after which the connection is considered dead, in milliseconds:
 * three of the proxy's default heartbeats.
 */
export const DEFAULT_CLIENT_IDLE_TIMEOUT_MS = 15_000;
/** Default lifetime of each dial's token, in seconds (it is used once, at the upgrade). */
export const DEFAULT_CLIENT_TOKEN_TTL_SECONDS = 60;

/** The connection options of a control-plane client. */
export interface ControlClientOptions {
  /** Control-plane URL, `wss://host:port` (`ws://` only together with `insecure: true`). Required. */
  proxyUrl: string;
  /** Ed25519 private JWK, or the path of a `.key.json` file. Required. */
  key: Ed25519PrivateJwk | string;
  /** SHA-256 pin(s) of the proxy's public key (base64, as the proxy prints it). */
  pin?: string | readonly string[];
  /** CA certificate (PEM text, Buffer or file path) that signed the proxy's certificate. */
  ca?: string | Buffer;
  /** Do not verify the proxy at all (development only; logs a warning). Default false. */
  insecure?: boolean;
  /**
   * A fixed token audience, 1 to 256 characters, for a proxy configured with `control.audience`.
   * Default: `inteli-proxy:<pin>` from the certificate the proxy presents on each dial (what a proxy
   * without `control.audience` expects), `inteli-proxy` over plain `ws://`.
   */
  audience?: string;
  /** Handshake bound (TCP, TLS, upgrade), in ms, 10 to 600000. Default 10000. */
  handshakeTimeoutMs?: number;
  /** Silence after which the connection is dropped, in ms, 0 to 3600000; 0 disables. Default 15000. */
  idleTimeoutMs?: number;
  /** Lifetime of each dial's token, 1 to 120 s. Default 60. */
  tokenTtlSeconds?: number;
  /**
   * The discovery channel proof (docs/discovery.md): when set, every dial sends the agent's proof in the
   * upgrade request and refuses a proxy whose 101 response does not prove the cluster secret on the same
   * TLS connection. Set by the agent for discovered proxies. Default none.
   */
  channelProof?: ChannelProofClient;
}

/** The agent's side of the discovery channel proof (`AgentDiscovery` implements it). */
export interface ChannelProofClient {
  /** The proof to send on this established TLS connection. */
  channelProof(socket: TLSSocket): string;
  /** True when the proxy's proof (the 101 response header) verifies on this connection. */
  verifyChannelProof(socket: TLSSocket, proxyProof: unknown): boolean;
}

/** Validated connection options. */
export interface ResolvedControlClientOptions {
  readonly proxyUrl: URL;
  readonly key: Ed25519PrivateJwk | string;
  readonly pins: readonly string[] | undefined;
  readonly ca: string | Buffer | undefined;
  readonly insecure: boolean;
  /** The fixed audience, or undefined: derived from the proxy's certificate on each dial. */
  readonly audience: string | undefined;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly tokenTtlSeconds: number;
  readonly channelProof: ChannelProofClient | undefined;
}

/**
 * Validates an integer option against its range, applying the default when it is absent.
 *
 * @throws {InvalidOptionError} naming the option and the range.
 */
export function integerOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
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

function channelProofOption(value: unknown, proxyUrl: URL): ChannelProofClient | undefined {
  if (value === undefined) return undefined;
  const candidate = value as Partial<ChannelProofClient> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.channelProof !== 'function' || typeof candidate.verifyChannelProof !== 'function') {
    throw new InvalidOptionError('channelProof: expected an object with channelProof(socket) and verifyChannelProof(socket, proof)');
  }
  if (proxyUrl.protocol !== 'wss:') throw new InvalidOptionError('channelProof: needs a wss:// proxy URL (the proof is bound to TLS)');
  return candidate as ChannelProofClient;
}

/**
 * Applies defaults to the connection options and validates them.
 *
 * @throws {InvalidOptionError} naming the first invalid option.
 */
export function resolveControlClientOptions(options: ControlClientOptions): ResolvedControlClientOptions {
  if (options.insecure !== undefined && typeof options.insecure !== 'boolean') throw new InvalidOptionError('insecure: expected a boolean');
  const insecure = options.insecure === true;
  const proxyUrl = url(options.proxyUrl, insecure);
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
  const audience = options.audience;
  if (audience !== undefined && (typeof audience !== 'string' || audience.length === 0 || audience.length > 256)) {
    throw new InvalidOptionError('audience: expected a string of 1 to 256 characters');
  }
  return {
    proxyUrl,
    key: options.key,
    pins: pinList === undefined ? undefined : Object.freeze(pinList),
    ca: options.ca,
    insecure,
    audience,
    handshakeTimeoutMs: integerOption('handshakeTimeoutMs', options.handshakeTimeoutMs, DEFAULT_CLIENT_HANDSHAKE_TIMEOUT_MS, 10, 600_000),
    idleTimeoutMs: integerOption('idleTimeoutMs', options.idleTimeoutMs, DEFAULT_CLIENT_IDLE_TIMEOUT_MS, 0, 3_600_000),
    tokenTtlSeconds: integerOption('tokenTtlSeconds', options.tokenTtlSeconds, DEFAULT_CLIENT_TOKEN_TTL_SECONDS, 1, 120),
    channelProof: channelProofOption(options.channelProof, proxyUrl),
  };
}
