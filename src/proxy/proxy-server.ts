/**
 * `ProxyServer`: a {@link ProxyHost} over a one-process {@link DataPlane}. The host builds the registry,
 * trust store, control plane, admin listener, metrics and (with `acme`) the certificate manager at `new`
 * and starts them in its documented order; this class only resolves the options and builds the data
 * plane, whose HTTPS listener serves the manager's certificates and whose HTTP listener answers its
 * challenges. It adds nothing to the request path.
 */
import type { CertificateManager } from './acme/certificate-manager.js';
import { DataPlane, type DataPlaneTlsHooks } from './data-plane/data-plane.js';
import { ProxyHost } from './proxy-host.js';
import { type ProxyServerOptions, type ResolvedProxyOptions, resolveProxyOptions } from './proxy-options.js';
import { BackendRegistry } from './registry/backend-registry.js';

export type { ProxyAddresses, ProxyServerEvents } from './proxy-host.js';

/**
 * The data plane's hooks into a certificate manager the host builds after it (the manager reads the
 * host's trust store, and the data plane is the host's forwarding, so it exists first). Until `bind` the
 * default certificate is served and no challenge is answered; `bind` runs in the constructor, long before
 * anything listens.
 */
function deferredTlsHooks(): { hooks: DataPlaneTlsHooks; bind(manager: CertificateManager | undefined): void } {
  let manager: CertificateManager | undefined;
  return {
    hooks: {
      sniCallback: (servername, callback) => {
        if (manager === undefined) callback(null);
        else manager.sniCallback(servername, callback);
      },
      handleHttp: (req, res, next) => manager?.challenges.handle(req, res, next) ?? false,
    },
    bind: (bound) => {
      manager = bound;
    },
  };
}

/** A reverse proxy and load balancer over a registry of self-registering backends. */
export class ProxyServer extends ProxyHost<DataPlane> {
  /** The resolved, frozen options as constructed (after `reconfigure()`, `dataPlane.options` holds the live values). */
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
    const tls = resolved.acme === undefined ? undefined : deferredTlsHooks();
    super(resolved, registry, new DataPlane(registry, resolved.dataPlane, tls?.hooks), 'proxy-server');
    tls?.bind(this.certificates);
    this.options = resolved;
    this.dataPlane.on('error', (error) => this.reportError(error));
  }

  /** The forwarding half (the same object as `forwarding`). */
  get dataPlane(): DataPlane {
    return this.forwarding;
  }
}
