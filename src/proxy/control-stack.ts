/**
 * The authority half that `ProxyServer` and the cluster's primary share: the trust store (opened from
 * `certstore` and watched when no store object is given), the control plane over the host's registry and
 * the admin listener. The host owns the forwarding part (a data plane, or a pool of workers) and decides
 * the order around it, so the stack starts and stops its parts one at a time rather than all at once.
 */
import type { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../shared/logger.js';
import type { ResolvedAdminOptions } from './admin/admin-options.js';
import { AdminServer, type AdminSource } from './admin/admin-server.js';
import type { ProxyMetrics } from './admin/proxy-metrics.js';
import { ControlPlane } from './control-plane/control-plane.js';
import { TrustStore } from './control-plane/trust-store.js';
import type { DataPlaneSnapshot } from './data-plane/data-plane.js';
import type { TrafficStats } from './data-plane/traffic-stats.js';
import type { ProxyControlOptions } from './proxy-options.js';
import type { ProxyAddresses, ProxyServerEvents } from './proxy-server.js';
import type { BackendRegistry } from './registry/backend-registry.js';

/** The resolved options the stack reads (a subset of both `ProxyServer`'s and the cluster's). */
export interface ControlStackOptions {
  /** The control plane's options; undefined runs without one. */
  readonly control: Readonly<ProxyControlOptions> | undefined;
  /** A trust store object; undefined opens (and watches) the file store in `certstore`. */
  readonly trustStore: TrustStore | undefined;
  /** Directory of the file trust store. */
  readonly certstore: string;
  /** The admin listener's options; undefined runs without one. */
  readonly admin: ResolvedAdminOptions | undefined;
  readonly logger: Logger;
}

/** What the host gives the stack: its registry, where to re-emit, and how its forwarding part drains. */
export interface ControlStackHost {
  readonly registry: BackendRegistry;
  /** Receives the control plane's `backend_rejected` and `message` events. */
  readonly events: EventEmitter<ProxyServerEvents>;
  /** Resolves once the backend has nothing in flight in the host's forwarding part. */
  whenIdle(backendId: string): Promise<void>;
  /** Resolves once the host's forwarding part routes the backend; omitted when it shares the registry. */
  readonly whenRouted?: ((backendId: string) => Promise<void>) | undefined;
  /** Receives a part's failure after start (never thrown). */
  onError(error: Error): void;
}

/** What the admin listener reads of the host (a `ProxyServer` or a cluster primary) besides the stack's parts. */
export interface AdminHost {
  readonly metrics: ProxyMetrics;
  /** Read on every `/readyz`. */
  readonly ready: boolean;
  readonly addresses: ProxyAddresses;
  snapshot(): DataPlaneSnapshot;
}

/** Trust store, control plane and admin listener of one proxy (single-process or cluster primary). */
export class ControlStack {
  readonly #options: ControlStackOptions;
  readonly #host: ControlStackHost;
  #trustStore: TrustStore | undefined;
  #ownsTrustStore = false;
  #controlPlane: ControlPlane | undefined;
  #admin: AdminServer | undefined;

  constructor(options: ControlStackOptions, host: ControlStackHost) {
    this.#options = options;
    this.#host = host;
  }

  /** The control plane, once `startControlPlane()` has built it (undefined when disabled). */
  get controlPlane(): ControlPlane | undefined {
    return this.#controlPlane;
  }

  /** The trust store the control plane uses, once `startControlPlane()` has opened it. */
  get trustStore(): TrustStore | undefined {
    return this.#trustStore;
  }

  /** The admin listener, once `startAdmin()` has built it (undefined when disabled). */
  get admin(): AdminServer | undefined {
    return this.#admin;
  }

  /** The control plane's bound address while it runs. */
  get controlAddress(): AddressInfo | undefined {
    return this.#controlPlane?.state === 'RUNNING' ? this.#controlPlane.address : undefined;
  }

  /**
   * Opens the trust store (unless one was given) and starts the control plane; does nothing without
   * `control`.
   *
   * @throws {TrustStoreError}, {ListenError}, {TlsError} as `ControlPlane.start()` and `TrustStore.open()` do.
   */
  async startControlPlane(): Promise<void> {
    const control = this.#options.control;
    if (control === undefined) return;
    if (this.#options.trustStore === undefined) {
      this.#trustStore = await TrustStore.open(this.#options.certstore, { logger: this.#options.logger });
      this.#ownsTrustStore = true;
      // Keys added or removed by the offline CLI reach the running proxy without a restart.
      this.#trustStore.watch();
    } else {
      this.#trustStore = this.#options.trustStore;
    }
    const host = this.#host;
    const controlPlane = new ControlPlane({
      ...control,
      registry: host.registry,
      trustStore: this.#trustStore,
      whenIdle: (backendId) => host.whenIdle(backendId),
      ...(host.whenRouted === undefined ? {} : { whenRouted: host.whenRouted }),
      logger: this.#options.logger,
    });
    controlPlane.on('backend_rejected', (rejection) => host.events.emit('backend_rejected', rejection));
    controlPlane.on('message', (event) => host.events.emit('message', event));
    controlPlane.on('error', (error) => host.onError(error));
    this.#controlPlane = controlPlane;
    await controlPlane.start();
  }

  /** Closes the control plane (agents see 1001) and stops watching a trust store the stack opened. */
  async stopControlPlane(): Promise<void> {
    await this.#controlPlane?.stop();
    if (this.#ownsTrustStore) this.#trustStore?.unwatch();
  }

  /**
   * Starts the admin listener over the host and its traffic counters; does nothing without `admin`.
   *
   * @throws {ListenError} when the admin port cannot be bound.
   */
  async startAdmin(host: AdminHost, trafficStats: TrafficStats): Promise<void> {
    if (this.#options.admin === undefined) return;
    this.#admin = new AdminServer(this.#options.admin, this.#adminSource(host, trafficStats), this.#options.logger);
    await this.#admin.start();
  }

  /** Closes the admin listener, if it was started. */
  async stopAdmin(): Promise<void> {
    await this.#admin?.stop();
  }

  #adminSource(host: AdminHost, trafficStats: TrafficStats): AdminSource {
    // A given store serves admin tokens even when the control plane is disabled.
    const trustStore = (): TrustStore | undefined => this.#trustStore ?? this.#options.trustStore;
    return {
      registry: this.#host.registry,
      metrics: host.metrics,
      trafficStats,
      events: this.#host.events,
      sessionEvents: this.#controlPlane,
      get ready(): boolean {
        return host.ready;
      },
      snapshot: () => host.snapshot(),
      listenerAddresses: () => ({ ...host.addresses }),
      trustedKeys: () => trustStore()?.list(),
      controlSessions: () => this.#controlPlane?.sessions() ?? [],
      trustStore,
      controlStats: () => this.#controlPlane?.stats(),
    };
  }
}
