/**
 * The proxies an agent registers with: `proxyUrl` as one URL or a list, each entry a URL string (verified
 * with the agent's top-level `pin`/`ca`/`insecure`) or an object with its own verification. Each entry
 * is validated exactly as a single `proxyUrl` is (wss, one way to verify the proxy), and two entries
 * naming the same URL are refused: one agent holds one session per proxy.
 */
import { InvalidOptionError, isProxyError } from '../shared/errors.js';
import {
  resolveControlClientOptions,
  type ChannelProofClient,
  type ControlClientOptions,
  type ResolvedControlClientOptions,
} from '../shared/control-client/client-options.js';

/** Most proxies one agent registers with (one session, one socket and one timer each). */
export const MAX_PROXIES = 64;

/** One proxy with its own verification; fields left out fall back to the agent's top-level ones. */
export interface ProxyEndpoint {
  /** Control-plane URL, `wss://host:port` (`ws://` only with `insecure`). Required. */
  url: string;
  /** SHA-256 pin(s) of this proxy's public key. */
  pin?: string | readonly string[];
  /** CA certificate (PEM text, Buffer or file path) that signed this proxy's certificate. */
  ca?: string | Buffer;
  /** Do not verify this proxy (development only). */
  insecure?: boolean;
  /** The discovery channel proof required on every dial to this proxy (set for discovered proxies). */
  channelProof?: ChannelProofClient;
}

/** A validated proxy entry. */
export interface ResolvedProxyEndpoint {
  /** The URL as the caller wrote it (events carry it, so listeners can compare it with their own list). */
  readonly proxyUrl: string;
  /** Normalised URL (`href`): the identity of the entry, for duplicates and `removeProxy`. */
  readonly key: string;
  /** The connection options of this proxy (the agent's, with this entry's URL and verification). */
  readonly connection: ResolvedControlClientOptions;
}

/** The verification and connection options every entry starts from. */
export type EndpointDefaults = Omit<ControlClientOptions, 'proxyUrl'>;

function hasOwnVerification(entry: ProxyEndpoint): boolean {
  return entry.pin !== undefined || entry.ca !== undefined || entry.insecure !== undefined;
}

/**
 * Validates one entry against the agent's options. `label` names it in error messages.
 *
 * @throws {InvalidOptionError} naming the entry and the problem.
 */
export function resolveProxyEndpoint(entry: unknown, defaults: EndpointDefaults, label = 'proxyUrl'): ResolvedProxyEndpoint {
  let endpoint: ProxyEndpoint;
  if (typeof entry === 'string') {
    endpoint = { url: entry };
  } else if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
    endpoint = entry as ProxyEndpoint;
  } else {
    throw new InvalidOptionError(`${label}: expected wss://host:port or { url, pin?, ca?, insecure? }`);
  }
  const verification = hasOwnVerification(endpoint)
    ? { pin: endpoint.pin, ca: endpoint.ca, insecure: endpoint.insecure }
    : { pin: defaults.pin, ca: defaults.ca, insecure: defaults.insecure };
  let connection: ResolvedControlClientOptions;
  try {
    const channelProof = endpoint.channelProof ?? defaults.channelProof;
    connection = resolveControlClientOptions({ ...defaults, ...verification, proxyUrl: endpoint.url, ...(channelProof === undefined ? {} : { channelProof }) });
  } catch (error) {
    if (label === 'proxyUrl' || !isProxyError(error, 'RP_ERR_INVALID_OPTION')) throw error;
    throw new InvalidOptionError(`${label}: ${error.message}`, { cause: error });
  }
  return Object.freeze({ proxyUrl: endpoint.url, key: connection.proxyUrl.href, connection });
}

/**
 * Validates `proxyUrl` (one entry or a list of 1 to {@link MAX_PROXIES}).
 *
 * @throws {InvalidOptionError} naming the first invalid entry, or a duplicate.
 */
export function resolveProxyEndpoints(proxyUrl: unknown, defaults: EndpointDefaults): readonly ResolvedProxyEndpoint[] {
  if (!Array.isArray(proxyUrl)) return Object.freeze([resolveProxyEndpoint(proxyUrl, defaults)]);
  if (proxyUrl.length === 0 || proxyUrl.length > MAX_PROXIES) {
    throw new InvalidOptionError(`proxyUrl: expected 1 to ${MAX_PROXIES} proxies`);
  }
  const seen = new Set<string>();
  const endpoints = proxyUrl.map((entry: unknown, index) => {
    const resolved = resolveProxyEndpoint(entry, defaults, proxyUrl.length === 1 ? 'proxyUrl' : `proxyUrl[${index}]`);
    if (seen.has(resolved.key)) throw new InvalidOptionError(`proxyUrl[${index}]: ${resolved.key} is listed twice`);
    seen.add(resolved.key);
    return resolved;
  });
  return Object.freeze(endpoints);
}
