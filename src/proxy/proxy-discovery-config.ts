/**
 * The `discovery` option of a proxy (docs/discovery.md): the cluster secret and the discovery options,
 * plus how the proxy names itself and where agents reach its control plane. Validated at `new`, like every
 * option; the announcement itself is completed at start, once the control plane's port is bound.
 */
import { hostname, networkInterfaces } from 'node:os';
import { InvalidOptionError } from '../shared/errors.js';
import { isValidAgentId } from '../shared/identity/agent-id.js';
import { announcedUrl, MAX_ANNOUNCED_URLS } from '../shared/discovery/announcement.js';
import { resolveDiscoveryOptions } from '../shared/discovery/discovery-options.js';
import type { ClusterKeyring } from '../shared/discovery/cluster-keyring.js';
import type { ProxyDiscoveryOptions } from '../shared/discovery/proxy-discovery.js';

/** The `discovery` option of `ProxyServer`. Only `secret` is required. */
export interface ProxyDiscoveryConfig extends ProxyDiscoveryOptions {
  /**
   * This proxy's id in beacons and peers' `node_added` events. Default: the Redis fleet node id when there
   * is one, else `<hostname>-<control port>`.
   */
  proxyId?: string;
  /**
   * Control-plane URLs announced to agents (1 to 4 `wss://` URLs). Default one URL: the host is
   * `interface` when set, else the control plane's bound address when it is not a wildcard, else the
   * first non-internal IPv4 address of this machine; the port is the control plane's.
   */
  controlUrls?: readonly string[];
}

/** The validated `discovery` option. */
export interface ResolvedProxyDiscoveryConfig {
  /** Options for `ProxyDiscovery`, the secret replaced by its keyring. */
  readonly options: ProxyDiscoveryOptions & { readonly secret: ClusterKeyring };
  readonly keyring: ClusterKeyring;
  readonly proxyId: string | undefined;
  readonly controlUrls: readonly string[] | undefined;
}

/**
 * Validates the `discovery` option.
 *
 * @throws {InvalidOptionError} naming the option; {@link ClusterSecretError} for a missing or weak secret.
 */
export function resolveProxyDiscoveryConfig(value: unknown): ResolvedProxyDiscoveryConfig | undefined {
  if (value === undefined || value === false) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidOptionError('discovery: expected { secret, ... } or false');
  const config = value as ProxyDiscoveryConfig;
  const resolved = resolveDiscoveryOptions(config);
  if (config.proxyId !== undefined && !isValidAgentId(config.proxyId)) {
    throw new InvalidOptionError('discovery.proxyId: expected an id matching ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$');
  }
  let controlUrls: string[] | undefined;
  if (config.controlUrls !== undefined) {
    const list: unknown = config.controlUrls;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_ANNOUNCED_URLS || list.some((url) => announcedUrl(url) === undefined)) {
      throw new InvalidOptionError(`discovery.controlUrls: expected 1 to ${MAX_ANNOUNCED_URLS} wss://host:port URLs of at most 200 bytes`);
    }
    controlUrls = list.map((url) => announcedUrl(url) as string);
  }
  return Object.freeze({
    options: Object.freeze({ ...config, secret: resolved.keyring }),
    keyring: resolved.keyring,
    proxyId: config.proxyId,
    controlUrls: controlUrls === undefined ? undefined : Object.freeze(controlUrls),
  });
}

/** The default proxy id: the host name (reduced to the id alphabet) and the control port. */
export function defaultProxyId(port: number): string {
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 50) || 'proxy';
  return `${host}-${port}`;
}

/** The host agents should dial: the discovery interface, a bound non-wildcard address, or the first LAN IPv4. */
export function announcedHost(iface: string | undefined, boundAddress: string): string {
  if (iface !== undefined) return iface;
  if (boundAddress !== '0.0.0.0' && boundAddress !== '::') return boundAddress.includes(':') ? `[${boundAddress}]` : boundAddress;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return '127.0.0.1';
}
