/**
 * `ProxyServer`: a thin composition of the proxy's parts around one backend registry. Today that is the
 * data plane; the control plane and the admin listener join it the same way (constructed from the
 * resolved options, started and stopped in order). It adds nothing to the request path.
 */
import { EventEmitter } from 'node:events';
import { NotRunningError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { DataPlane, type DataPlaneAddresses, type DataPlaneSnapshot } from './data-plane/data-plane.js';
import { type ProxyServerOptions, type ResolvedProxyOptions, resolveProxyOptions } from './proxy-options.js';
import { BackendRegistry } from './registry/backend-registry.js';

/** Bound addresses of the proxy's listeners, known after `start()`. */
export type ProxyAddresses = DataPlaneAddresses;

/** Events of a {@link ProxyServer}. */
export interface ProxyServerEvents {
  /** All listeners are bound. */
  listening: [addresses: ProxyAddresses];
  /** A listener failed after start. Without a listener it is only logged (never thrown). */
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
  readonly #logger: Logger;
  #startPromise: Promise<ProxyAddresses> | undefined;
  #stopPromise: Promise<void> | undefined;

  /** @throws {InvalidOptionError} (`RP_ERR_INVALID_OPTION`) naming the bad option. */
  constructor(options: ProxyServerOptions = {}) {
    super();
    this.options = resolveProxyOptions(options);
    this.#logger = this.options.logger.child({ component: 'proxy-server' });
    this.registry = new BackendRegistry();
    this.dataPlane = new DataPlane(this.registry, this.options.dataPlane);
    this.dataPlane.on('error', (error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error);
    });
  }

  /** Bound addresses (`http`, and `https` when a certificate is configured); empty before start. */
  get addresses(): ProxyAddresses {
    return this.dataPlane.addresses;
  }

  /**
   * Starts every part; idempotent (a second call returns the same promise).
   *
   * @throws {ListenError} (`RP_ERR_LISTEN`) when a port cannot be bound, naming host:port.
   * @throws {TlsError} (`RP_ERR_TLS`) when the certificate or key is unusable.
   * @throws {NotRunningError} (`RP_ERR_NOT_RUNNING`) after `stop()`.
   */
  start(): Promise<ProxyAddresses> {
    if (this.#stopPromise !== undefined) return Promise.reject(new NotRunningError('the proxy was stopped and cannot start again'));
    this.#startPromise ??= this.dataPlane.start().then((addresses) => {
      this.#logger.info({ addresses }, 'proxy listening');
      this.emit('listening', addresses);
      return addresses;
    });
    return this.#startPromise;
  }

  /** Gracefully stops every part; idempotent. Backends are removed with reason `stopped`. */
  stop(): Promise<void> {
    this.#stopPromise ??= (async () => {
      await this.dataPlane.stop();
      this.registry.clear('stopped');
    })();
    return this.#stopPromise;
  }

  /** Resolves once the backend has no request or tunnel in flight (at once if it has none). */
  whenIdle(backendId: string): Promise<void> {
    return this.dataPlane.whenIdle(backendId);
  }

  /** A read-only copy of routes, upstreams and counters (for the admin status API and tests). */
  snapshot(): DataPlaneSnapshot {
    return this.dataPlane.snapshot();
  }
}
