/**
 * `ProxyServer`: a {@link ProxyHost} over a one-process {@link DataPlane}. The host builds the registry,
 * trust store, control plane, admin listener and metrics at `new` and starts them in its documented
 * order; this class only resolves the options and builds the data plane. It adds nothing to the request
 * path.
 */
import { DataPlane } from './data-plane/data-plane.js';
import { ProxyHost } from './proxy-host.js';
import { type ProxyServerOptions, type ResolvedProxyOptions, resolveProxyOptions } from './proxy-options.js';
import { BackendRegistry } from './registry/backend-registry.js';

export type { ProxyAddresses, ProxyServerEvents } from './proxy-host.js';

/** A reverse proxy and load balancer over a registry of self-registering backends. */
export class ProxyServer extends ProxyHost<DataPlane> {
  /** The resolved, frozen options. */
  readonly options: ResolvedProxyOptions;

  /**
   * Builds every part; nothing is bound until `start()`.
   *
   * @throws {InvalidOptionError} (`RP_ERR_INVALID_OPTION`) naming the bad option (a bad `control.port`
   * too: nothing is ever bound with a bad option).
   * @throws {TlsError} (`RP_ERR_TLS`) when the control plane's certificate or key is unusable.
   */
  constructor(options: ProxyServerOptions = {}) {
    const resolved = resolveProxyOptions(options);
    const registry = new BackendRegistry();
    super(resolved, registry, new DataPlane(registry, resolved.dataPlane), 'proxy-server');
    this.options = resolved;
    this.dataPlane.on('error', (error) => this.reportError(error));
  }

  /** The forwarding half (the same object as `forwarding`). */
  get dataPlane(): DataPlane {
    return this.forwarding;
  }
}
