/**
 * Options of {@link ProxyServer}: defaults, validation, freeze. The data plane's options are flat on
 * `ProxyServerOptions` (documented with their defaults in `data-plane/data-plane-options.ts`); the
 * control plane's sit under `control` (documented in `control-plane/control-plane-options.ts`). Options
 * of the original `inteli-reverse-proxy` that no longer exist fail with a hint instead of being ignored.
 */
import { InvalidOptionError } from '../shared/errors.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import { type AcmeOptions, type ResolvedAcmeOptions, resolveAcmeOptions } from './acme/acme-options.js';
import { type AdminOptions, type ResolvedAdminOptions, resolveAdminOptions } from './admin/admin-options.js';
import type { ControlPlaneOptions } from './control-plane/control-plane-options.js';
import type { TrustStore } from '../shared/trust/trust-store.js';
import { type ProxyDiscoveryConfig, type ResolvedProxyDiscoveryConfig, resolveProxyDiscoveryConfig } from './proxy-discovery-config.js';
import { type DataPlaneOptions, type ResolvedDataPlaneOptions, resolveDataPlaneOptions } from './data-plane/data-plane-options.js';
import { isRedisTrustOption, resolveFleetOptions, type RedisFleetOptions, type ResolvedFleetOptions } from './fleet/fleet-options.js';

/** Default directory of the trust store when no `trustStore` object is given. */
export const DEFAULT_CERTSTORE_DIR = 'certstore';

/**
 * Control-plane options as `ProxyServer` takes them: the registry, trust store, drain hook and logger
 * are the proxy's own. `tls` defaults to the data plane's certificate.
 */
export type ProxyControlOptions = Omit<ControlPlaneOptions, 'registry' | 'trustStore' | 'whenIdle' | 'logger' | 'replayCache' | 'fleet'>;

/** Options of a {@link ProxyServer}. Every field is optional and states its default. */
export interface ProxyServerOptions extends DataPlaneOptions {
  /** pino logger; every component logs through a child. Default silent. */
  logger?: Logger;
  /**
   * The WSS control plane where agents register. `false` runs the data plane alone (backends are then
   * added through `proxy.registry`). Default enabled on `0.0.0.0:3042` with the data plane's `tls`;
   * without any certificate it needs `control.insecure: true` (development only).
   */
  control?: ProxyControlOptions | false;
  /**
   * Trusted keys. Default: the file store in `certstore`, opened at start and watched for edits.
   * `{ redis: { url, prefix? } }` puts the trust store, the replay cache and the fleet membership in
   * Redis, shared by every proxy given the same URL and prefix (docs/fleet.md).
   */
  trustStore?: TrustStore | { redis: RedisFleetOptions };
  /** Directory of the trust store, used when `trustStore` is not given. Default `certstore`. */
  certstore?: string;
  /**
   * Refuse to start when the `certstore` directory or its file is writable by group or others, or owned
   * by another user (root aside), instead of logging a warning. A symbolic link or FIFO in place of the
   * file is refused either way. Default false.
   */
  strictTrustStoreModes?: boolean;
  /**
   * The admin listener: `/healthz`, `/readyz`, `/metrics`, `/api/status` and the status page (see
   * `admin/admin-options.ts`). Default `false` in the library, so that several proxies in one process
   * never collide on its port; `npm start` enables it on `PROXY_ADMIN_HOST:PROXY_ADMIN_PORT`
   * (`127.0.0.1:3090`). Metrics are kept either way (`proxy.metrics`).
   */
  admin?: AdminOptions | false;
  /**
   * Certificates obtained automatically by ACME for the hosts of host-bound rules in trusted keys' scopes,
   * served by SNI on the HTTPS listener (see `acme/acme-options.ts` and docs/acme.md). Needs `tls`: that
   * certificate is the fallback. Default none.
   */
  acme?: AcmeOptions | undefined;
  /**
   * Zero-configuration discovery on the LAN (docs/discovery.md): with a cluster secret the proxy sends
   * sealed beacons, answers probes, proves the secret to agents on the TLS channel and reports peer
   * proxies as `node_added` / `node_removed`. Needs the TLS control plane. Default `false` (nothing is sent
   * or listened to); `npm start` enables it when `PROXY_CLUSTER_SECRET` or `PROXY_CLUSTER_SECRET_FILE` is set.
   */
  discovery?: ProxyDiscoveryConfig | false;
}

/** The validated, frozen options, grouped per part. */
export interface ResolvedProxyOptions {
  readonly logger: Logger;
  readonly dataPlane: ResolvedDataPlaneOptions;
  /** Control-plane options with `tls` filled in from the data plane, or undefined when disabled. */
  readonly control: Readonly<ProxyControlOptions> | undefined;
  readonly trustStore: TrustStore | undefined;
  /** The fleet's Redis options, when `trustStore: { redis }` was given. */
  readonly fleet: ResolvedFleetOptions | undefined;
  readonly certstore: string;
  readonly strictTrustStoreModes: boolean;
  /** Admin listener options, or undefined when disabled. */
  readonly admin: ResolvedAdminOptions | undefined;
  /** ACME options, or undefined when disabled. */
  readonly acme: ResolvedAcmeOptions | undefined;
  /** Discovery, or undefined when disabled. */
  readonly discovery: ResolvedProxyDiscoveryConfig | undefined;
}

/** Options of the original that were removed, with what to use instead. */
const REMOVED_OPTIONS: Readonly<Record<string, string>> = Object.freeze({
  proxySelector: 'use `selector` (a name or a ProxySelectorFactory)',
  proxyMsgHandler: 'listen to the `message` event instead',
  inteliConfig: 'pass the options directly (host, port, tlsPort, tls, control, ...)',
  closeTimeout: 'use `shutdownTimeoutMs`',
  ignoreXForwardedFor: 'use `trustedProxies`',
  disableNagleAlgorithm: 'Nagle is always disabled',
  wsServerMount: 'use `control` (heartbeatIntervalMs, missedPongs, limits)',
});

function resolveControl(options: ProxyServerOptions, dataPlane: ResolvedDataPlaneOptions): ProxyControlOptions | undefined {
  const control = options.control === undefined ? {} : options.control;
  if (control === false) return undefined;
  if (typeof control !== 'object' || control === null || Array.isArray(control)) {
    throw new InvalidOptionError('control: expected an options object or false');
  }
  // The same certificate serves HTTPS and WSS unless the control plane is given its own. The control
  // plane validates the rest of its options itself when it is built at start().
  const tls = control.tls ?? (control.insecure === true ? undefined : dataPlane.tls);
  if (tls === undefined && control.insecure !== true) {
    throw new InvalidOptionError(
      'control: the control plane needs a certificate: pass `tls` (shared with HTTPS) or `control.tls`, ' +
        '`control: { insecure: true }` for local development, or `control: false` to run the data plane alone',
    );
  }
  return Object.freeze({ ...control, tls });
}

function resolveAcme(acme: AcmeOptions | undefined, dataPlane: ResolvedDataPlaneOptions): ResolvedAcmeOptions | undefined {
  if (acme === undefined) return undefined;
  // The configured certificate is the listener's default: what a name without a certificate gets.
  if (dataPlane.tls === undefined) throw new InvalidOptionError('acme: needs `tls` (the HTTPS listener\'s fallback certificate)');
  return resolveAcmeOptions(acme);
}

function strictModes(value: unknown): boolean {
  if (value !== undefined && typeof value !== 'boolean') throw new InvalidOptionError('strictTrustStoreModes: expected a boolean');
  return value === true;
}

function resolveDiscovery(options: ProxyServerOptions): ResolvedProxyDiscoveryConfig | undefined {
  const discovery = resolveProxyDiscoveryConfig(options.discovery);
  if (discovery !== undefined && (options.control === false || options.control?.insecure === true)) {
    throw new InvalidOptionError('discovery: needs the TLS control plane (agents verify the proxy on TLS); remove control: false / insecure');
  }
  return discovery;
}

/** Applies defaults, validates and freezes. @throws {InvalidOptionError} naming the option. */
export function resolveProxyOptions(options: ProxyServerOptions = {}): ResolvedProxyOptions {
  if (typeof options === 'function') {
    throw new InvalidOptionError('ProxyServer takes an options object; the origin-validator callback of inteli-reverse-proxy was removed');
  }
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('ProxyServer options must be an object');
  for (const [name, hint] of Object.entries(REMOVED_OPTIONS)) {
    if (Object.hasOwn(options, name)) throw new InvalidOptionError(`option "${name}" was removed: ${hint}`);
  }
  const fleetOption = isRedisTrustOption(options.trustStore) ? options.trustStore.redis : undefined;
  const trustStore = isRedisTrustOption(options.trustStore) ? undefined : options.trustStore;
  if (trustStore !== undefined && typeof trustStore.get !== 'function') {
    throw new InvalidOptionError('trustStore: expected a TrustStore or { redis: { url, prefix? } }');
  }
  const certstore = options.certstore ?? DEFAULT_CERTSTORE_DIR;
  if (typeof certstore !== 'string' || certstore === '' || certstore.includes('\0')) {
    throw new InvalidOptionError('certstore: expected a directory path');
  }
  const logger = options.logger ?? silentLogger();
  const dataPlane = resolveDataPlaneOptions({ ...options, logger });
  const control = resolveControl(options, dataPlane);
  return Object.freeze({
    logger,
    dataPlane,
    control,
    trustStore,
    fleet: fleetOption === undefined ? undefined : resolveFleetOptions(fleetOption, control === undefined ? undefined : (control.port ?? 3042)),
    certstore,
    strictTrustStoreModes: strictModes(options.strictTrustStoreModes),
    admin: options.admin === undefined || options.admin === false ? undefined : resolveAdminOptions(options.admin),
    acme: resolveAcme(options.acme, dataPlane),
    discovery: resolveDiscovery(options),
  });
}
