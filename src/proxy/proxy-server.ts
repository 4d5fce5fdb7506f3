/**
 * `ProxyServer`: a thin composition of the proxy's parts around one backend registry: the data plane
 * (HTTP/HTTPS forwarding) and the control plane (WSS, where agents register). Parts are built from the
 * resolved options, started in order (data plane first, so a registration acked by the control plane is
 * routable at once) and stopped in reverse. It adds nothing to the request path.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { NotRunningError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { CertificateManager } from './acme/certificate-manager.js';
import type { AdminServer } from './admin/admin-server.js';
import { ProxyMetrics } from './admin/proxy-metrics.js';
import type { ControlPlane, AgentEvent, BackendRejection } from './control-plane/control-plane.js';
import type { TrustStore } from './control-plane/trust-store.js';
import { ControlStack } from './control-stack.js';
import { DataPlane, type DataPlaneAddresses, type DataPlaneSnapshot } from './data-plane/data-plane.js';
import { type ProxyServerOptions, type ResolvedProxyOptions, resolveProxyOptions } from './proxy-options.js';
import { BackendRegistry } from './registry/backend-registry.js';
import type { Backend, RemovalReason } from './registry/backend.js';

/** Bound addresses of the proxy's listeners, known after `start()`. */
export interface ProxyAddresses extends DataPlaneAddresses {
  /** The control plane, when enabled. */
  readonly control?: AddressInfo | undefined;
  /** The admin listener (health, metrics, status), when enabled. */
  readonly admin?: AddressInfo | undefined;
}

/** Events of a {@link ProxyServer}. */
export interface ProxyServerEvents {
  /** All listeners are bound. */
  listening: [addresses: ProxyAddresses];
  /** A backend joined the registry (through the control plane or the registry API). */
  backend_added: [backend: Backend];
  /** A backend left, with the reason (left, drained, timeout, revoked, superseded, error, stopped). */
  backend_removed: [backend: Backend, reason: RemovalReason];
  /** The control plane refused a verified agent's registration (scope, gatekeeper, limits). */
  backend_rejected: [rejection: BackendRejection];
  /** A custom event from an agent. */
  message: [event: AgentEvent];
  /** A part failed after start. Without a listener it is only logged (never thrown). */
  error: [error: Error];
}

/** A reverse proxy and load balancer over a registry of self-registering backends. */
export class ProxyServer extends EventEmitter<ProxyServerEvents> {
  /** The live backends; the control plane writes here, tests and embedders may too. */
  readonly registry: BackendRegistry;
  /** The forwarding half. */
  readonly dataPlane: DataPlane;
  /** The resolved, frozen options. */
  readonly options: ResolvedProxyOptions;
  /** Prometheus metrics on a registry of this proxy's own (served by the admin listener at `/metrics`). */
  readonly metrics: ProxyMetrics;
  /** ACME certificates, when `acme` is set. */
  readonly certificates: CertificateManager | undefined;
  readonly #logger: Logger;
  readonly #stack: ControlStack;
  #ready = false;
  #stopCertificates: (() => Promise<void>) | undefined;
  #startPromise: Promise<ProxyAddresses> | undefined;
  #stopPromise: Promise<void> | undefined;

  /** @throws {InvalidOptionError} (`RP_ERR_INVALID_OPTION`) naming the bad option. */
  constructor(options: ProxyServerOptions = {}) {
    super();
    this.options = resolveProxyOptions(options);
    this.#logger = this.options.logger.child({ component: 'proxy-server' });
    this.registry = new BackendRegistry();
    const acme = this.options.acme;
    this.certificates = acme === undefined ? undefined : new CertificateManager(acme, {
      keys: () => (this.#stack.trustStore ?? this.options.trustStore)?.list(),
      storageDir: path.join(this.options.certstore, 'acme'),
      logger: this.options.logger,
    });
    const certificates = this.certificates;
    this.dataPlane = new DataPlane(this.registry, this.options.dataPlane, certificates === undefined ? {} : {
      sniCallback: certificates.sniCallback,
      handleHttp: (req, res, next) => certificates.challenges.handle(req, res, next),
    });
    this.dataPlane.on('error', (error) => this.#emitError(error));
    this.registry.on('added', (backend) => this.emit('backend_added', backend));
    // A host-bound rule in some key's scope gets its certificate before its first client asks.
    if (certificates !== undefined) this.registry.on('added', (backend) => certificates.prefetch(backend.rules.map((rule) => rule.host)));
    this.registry.on('removed', (backend, reason) => this.emit('backend_removed', backend, reason));
    this.#stack = new ControlStack(this.options, {
      registry: this.registry,
      events: this,
      whenIdle: (backendId) => this.dataPlane.whenIdle(backendId),
      onError: (error) => this.#emitError(error),
    });
    this.metrics = new ProxyMetrics(
      {
        snapshot: () => this.dataPlane.snapshot(),
        trafficStats: this.dataPlane.stats,
        clientBytes: () => this.dataPlane.clientBytes(),
        controlStats: () => this.#stack.controlPlane?.stats(),
        certificates: () => this.certificates?.certificates(),
        protocolStats: () => this.dataPlane.protocolStats,
      },
      this.registry,
    );
  }

  /** Bound addresses (`http`, `https` with a certificate, `control` when enabled); empty before start. */
  get addresses(): ProxyAddresses {
    return { ...this.dataPlane.addresses, control: this.#stack.controlAddress, admin: this.#stack.admin?.boundAddress };
  }

  /** True once every listener is up, false again as soon as `stop()` is called (`/readyz`). */
  get ready(): boolean {
    return this.#ready;
  }

  /** The admin listener, once `start()` has built it (undefined when disabled). */
  get admin(): AdminServer | undefined {
    return this.#stack.admin;
  }

  /** The control plane, once `start()` has built it (undefined when disabled). */
  get controlPlane(): ControlPlane | undefined {
    return this.#stack.controlPlane;
  }

  /** The trust store in use, once `start()` has opened it. */
  get trustStore(): TrustStore | undefined {
    return this.#stack.trustStore;
  }

  /** Base64 SHA-256 pin of the control plane's certificate public key (agents verify the proxy by it). */
  get pin(): string | undefined {
    return this.#stack.controlPlane?.pin;
  }

  /**
   * Starts every part; idempotent (a second call returns the same promise). A part that fails to start
   * stops the parts already started, so a failed start leaves no listener behind.
   *
   * @throws {ListenError} (`RP_ERR_LISTEN`) when a port cannot be bound, naming host:port.
   * @throws {TlsError} (`RP_ERR_TLS`) when the certificate or key is unusable.
   * @throws {TrustStoreError} (`RP_ERR_TRUST_STORE`) when the trust store cannot be read.
   * @throws {NotRunningError} (`RP_ERR_NOT_RUNNING`) after `stop()`.
   */
  start(): Promise<ProxyAddresses> {
    if (this.#stopPromise !== undefined) return Promise.reject(new NotRunningError('the proxy was stopped and cannot start again'));
    this.#startPromise ??= this.#start();
    return this.#startPromise;
  }

  async #start(): Promise<ProxyAddresses> {
    try {
      await this.dataPlane.start();
      await this.#stack.startControlPlane();
      await this.#startCertificates();
      await this.#stack.startAdmin(this, this.dataPlane.stats);
    } catch (error) {
      await this.#stopParts();
      throw error;
    }
    const addresses = this.addresses;
    this.#ready = this.#stopPromise === undefined;
    this.#logger.info({ addresses, pin: this.pin }, 'proxy listening');
    this.emit('listening', addresses);
    return addresses;
  }

  /** Starts the ACME manager once the trust store is open; a key added or removed changes the allowed names. */
  async #startCertificates(): Promise<void> {
    const certificates = this.certificates;
    if (certificates === undefined) return;
    const store = this.#stack.trustStore ?? this.options.trustStore;
    const changed = (): void => certificates.keysChanged();
    store?.on('added', changed);
    store?.on('removed', changed);
    // A store given by the caller outlives this proxy: take the listeners off again at stop.
    this.#stopCertificates = async () => {
      store?.off('added', changed);
      store?.off('removed', changed);
      await certificates.stop();
    };
    certificates.keysChanged();
    await certificates.start();
  }

  /**
   * Gracefully stops every part; idempotent. The data plane stops accepting (new requests get 503 and
   * `Connection: close`) and lets in-flight requests finish within `shutdownTimeoutMs` while the control
   * plane closes (agents see 1001 and start reconnecting).
   * Backends are removed with reason `stopped`.
   */
  stop(): Promise<void> {
    // Readiness flips first, so load balancers stop sending before anything closes.
    this.#ready = false;
    this.#stopPromise ??= (async () => {
      await this.#startPromise?.catch(() => undefined);
      await this.#stopParts();
    })();
    return this.#stopPromise;
  }

  async #stopParts(): Promise<void> {
    // The data plane starts its graceful stop first: closing the control plane removes every backend,
    // and requests arriving in between would otherwise get 403 NO_TARGET instead of 503 + close.
    const dataPlaneStopped = this.dataPlane.stop();
    if (this.#stopCertificates !== undefined) await this.#stopCertificates();
    else await this.certificates?.stop();
    await this.#stack.stopControlPlane();
    await dataPlaneStopped;
    this.registry.clear('stopped');
    // Last, so that /readyz answers 503 (and /metrics stays scrapable) while the proxy drains.
    await this.#stack.stopAdmin();
  }

  /** Resolves once the backend has no request or tunnel in flight (at once if it has none). */
  whenIdle(backendId: string): Promise<void> {
    return this.dataPlane.whenIdle(backendId);
  }

  /** A read-only copy of routes, upstreams and counters (for the admin status API and tests). */
  snapshot(): DataPlaneSnapshot {
    return this.dataPlane.snapshot();
  }

  #emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else this.#logger.error({ err: error }, 'proxy part failed');
  }
}
