/**
 * Options of {@link ProxyServer}: defaults, validation, freeze. The data plane's options are flat on
 * `ProxyServerOptions` (documented with their defaults in `data-plane/data-plane-options.ts`); the
 * control plane's will join them. Options of the original `inteli-reverse-proxy` that no longer exist
 * fail with a hint instead of being ignored.
 */
import { InvalidOptionError } from '../shared/errors.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import { type DataPlaneOptions, type ResolvedDataPlaneOptions, resolveDataPlaneOptions } from './data-plane/data-plane-options.js';

/** Options of a {@link ProxyServer}. Every field is optional and states its default. */
export interface ProxyServerOptions extends DataPlaneOptions {
  /** pino logger; every component logs through a child. Default silent. */
  logger?: Logger;
}

/** The validated, frozen options, grouped per part. */
export interface ResolvedProxyOptions {
  readonly logger: Logger;
  readonly dataPlane: ResolvedDataPlaneOptions;
}

/** Options of the original that were removed, with what to use instead. */
const REMOVED_OPTIONS: Readonly<Record<string, string>> = Object.freeze({
  proxySelector: 'use `selector` (a name or a ProxySelectorFactory)',
  proxyMsgHandler: 'listen to ProxyServer events instead',
  inteliConfig: 'pass the options directly (host, port, tlsPort, tls, ...)',
  closeTimeout: 'use `shutdownTimeoutMs`',
  ignoreXForwardedFor: 'use `trustedProxies`',
  disableNagleAlgorithm: 'Nagle is always disabled',
});

/** Applies defaults, validates and freezes. @throws {InvalidOptionError} naming the option. */
export function resolveProxyOptions(options: ProxyServerOptions = {}): ResolvedProxyOptions {
  if (typeof options === 'function') {
    throw new InvalidOptionError('ProxyServer takes an options object; the origin-validator callback of inteli-reverse-proxy was removed');
  }
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('ProxyServer options must be an object');
  for (const [name, hint] of Object.entries(REMOVED_OPTIONS)) {
    if (Object.hasOwn(options, name)) throw new InvalidOptionError(`option "${name}" was removed: ${hint}`);
  }
  const logger = options.logger ?? silentLogger();
  return Object.freeze({ logger, dataPlane: resolveDataPlaneOptions({ ...options, logger }) });
}
