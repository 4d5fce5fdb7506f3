/**
 * The primary of a multi-process proxy (Node `cluster`). It owns the authority: the trust store, the
 * control plane (agents connect once, here), the admin listener and the {@link BackendRegistry}. It forks
 * N workers, each a data plane on the shared HTTP/HTTPS ports (Node's primary accepts connections and
 * hands them out round-robin on Linux), and publishes the registry to them: a snapshot when a worker
 * starts, then every change in order with the registry version, so a worker that sees a gap asks again.
 *
 * Drain spans every worker: the control plane's `whenIdle(backendId)` resolves once every live worker has
 * answered that the backend is idle there (a worker that dies counts as idle). A worker that dies is
 * replaced after a backoff that doubles while replacements keep dying. `stop()` tells the workers to stop
 * gracefully first (so requests during the stop get 503 + close, not 403), then closes the control plane,
 * waits for the workers (bounded: stragglers are killed) and closes the admin listener last.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Gauge } from 'prom-client';
import { NotRunningError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { METRIC_PREFIX, ProxyMetrics } from '../admin/proxy-metrics.js';
import type { ControlPlane } from '../control-plane/control-plane.js';
import { ControlStack } from '../control-stack.js';
import type { ProxyAddresses, ProxyServerEvents } from '../proxy-server.js';
import { BackendRegistry } from '../registry/backend-registry.js';
import type { Backend, RemovalReason } from '../registry/backend.js';
import { type ClusterOptions, type ResolvedClusterOptions, resolveClusterOptions } from './cluster-options.js';
import { ClusterStats } from './cluster-stats.js';
import { WorkerPool } from './worker-pool.js';
import { reportedRequests } from './worker-report.js';

/** The primary process of a cluster of proxies. Emits the same events as `ProxyServer`. */
export class ClusterPrimary extends EventEmitter<ProxyServerEvents> {
  /** The authoritative registry; workers mirror it. */
  readonly registry = new BackendRegistry();
  /** The resolved, frozen options. */
  readonly options: ResolvedClusterOptions;
  /** Prometheus metrics: the control plane and registry here, data-plane counters summed from workers. */
  readonly metrics: ProxyMetrics;
  readonly #logger: Logger;
  readonly #stats = new ClusterStats();
  readonly #pool: WorkerPool;
  readonly #stack: ControlStack;
  #ready = false;
  #startPromise: Promise<ProxyAddresses> | undefined;
  #stopPromise: Promise<void> | undefined;

  /** @throws {InvalidOptionError} (`RP_ERR_INVALID_OPTION`) naming the bad option. */
  constructor(options: ClusterOptions) {
    super();
    this.options = resolveClusterOptions(options);
    this.#logger = this.options.logger.child({ component: 'cluster-primary' });
    const { dataPlane } = this.options;
    this.#pool = new WorkerPool({
      size: this.options.workers,
      config: { ...dataPlane, reportIntervalMs: this.options.reportIntervalMs, logLevel: this.options.logLevel },
      registry: this.registry,
      stats: this.#stats,
      respawnDelayMs: this.options.respawnDelayMs,
      respawnMaxDelayMs: this.options.respawnMaxDelayMs,
      workerExec: this.options.workerExec,
      logger: this.#logger,
    });
    this.registry.on('added', (backend) => this.emit('backend_added', backend));
    this.registry.on('removed', (backend, reason) => this.emit('backend_removed', backend, reason));
    this.#stack = new ControlStack(this.options, {
      registry: this.registry,
      events: this,
      whenIdle: (backendId) => this.whenIdle(backendId),
      whenRouted: (backendId) => this.#pool.whenApplied(backendId),
      onError: (error) => this.#emitError(error),
    });
    this.metrics = new ProxyMetrics(
      {
        snapshot: () => this.snapshot(),
        trafficStats: this.#stats.traffic,
        clientBytes: () => this.#stats.clientBytes(),
        controlStats: () => this.#stack.controlPlane?.stats(),
      },
      this.registry,
    );
    this.#addClusterMetrics();
  }

  /** Bound addresses: the shared data-plane ports, the control plane and the admin listener. */
  get addresses(): ProxyAddresses {
    const host = this.options.dataPlane.host;
    const family = host.includes(':') ? 'IPv6' : 'IPv4';
    const at = (port: number | undefined): AddressInfo | undefined => (port === undefined ? undefined : { address: host, family, port });
    const ports = this.#pool.ports;
    return { http: at(ports?.http), https: at(ports?.https), control: this.#stack.controlAddress, admin: this.#stack.admin?.boundAddress };
  }

  /** True once every worker listens, false again as soon as `stop()` is called. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Base64 SHA-256 pin of the control plane's certificate public key. */
  get pin(): string | undefined {
    return this.#stack.controlPlane?.pin;
  }

  /** The control plane, once started. */
  get controlPlane(): ControlPlane | undefined {
    return this.#stack.controlPlane;
  }

  /** Live worker processes. */
  get workers(): number {
    return this.#pool.size;
  }

  /** Routes and in-flight counts summed over the workers' latest reports. */
  snapshot(): ReturnType<ClusterStats['snapshot']> {
    return this.#stats.snapshot(this.#stopPromise !== undefined ? 'stopping' : this.#ready ? 'running' : 'starting');
  }

  /**
   * Starts the control plane, forks the workers and waits until each listens, then starts the admin
   * listener. Idempotent. A failed start stops what was started.
   *
   * @throws {ListenError} when the workers cannot bind the data-plane ports, or a port is taken.
   * @throws {TrustStoreError}, {TlsError} as `ProxyServer` does.
   */
  start(): Promise<ProxyAddresses> {
    if (this.#stopPromise !== undefined) return Promise.reject(new NotRunningError('the cluster was stopped and cannot start again'));
    this.#startPromise ??= this.#start();
    return this.#startPromise;
  }

  async #start(): Promise<ProxyAddresses> {
    try {
      await this.#stack.startControlPlane();
      await this.#pool.start();
      await this.#stack.startAdmin(this, this.#stats.traffic);
    } catch (error) {
      await this.#stopParts();
      throw error;
    }
    const addresses = this.addresses;
    this.#ready = this.#stopPromise === undefined;
    this.#logger.info({ workers: this.options.workers, addresses, pin: this.pin }, 'cluster listening');
    this.emit('listening', addresses);
    return addresses;
  }

  /** Resolves once no live worker has a request or tunnel in flight on the backend. */
  whenIdle(backendId: string): Promise<void> {
    return this.#pool.whenIdle(backendId);
  }

  /**
   * Stops gracefully; idempotent. Workers stop first (new requests get 503 + close while in-flight ones
   * finish), then the control plane (agents see 1001 and reconnect later), then the admin listener.
   */
  stop(): Promise<void> {
    this.#ready = false;
    // At once, not after the start settles: a Ctrl-C reaches the workers too, and their exits must not
    // be taken for deaths to replace.
    this.#pool.markStopping();
    this.#stopPromise ??= (async () => {
      await this.#startPromise?.catch(() => undefined);
      await this.#stopParts();
    })();
    return this.#stopPromise;
  }

  async #stopParts(): Promise<void> {
    // The workers are told to stop before the control plane closes: closing it removes every backend,
    // and requests in between would get 403 NO_TARGET instead of 503 + close.
    const workersGone = this.#pool.stop();
    await this.#stack.stopControlPlane();
    await workersGone;
    this.registry.clear('stopped');
    // Last, so that /readyz answers 503 (and /metrics stays scrapable) while the cluster drains.
    await this.#stack.stopAdmin();
    this.#logger.info('cluster stopped');
  }

  #addClusterMetrics(): void {
    const registers = [this.metrics.registry];
    const workers = (): WorkerPool => this.#pool;
    const reports = (): ReturnType<ClusterStats['reports']> => this.#stats.reports();
    new Gauge({
      name: `${METRIC_PREFIX}cluster_workers`,
      help: 'Live cluster worker processes.',
      registers,
      collect() {
        this.set(workers().size);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}cluster_worker_requests`,
      help: 'Requests answered by each live worker, as of its latest report (for balance; totals are in inteli_requests_total).',
      labelNames: ['worker'],
      registers,
      collect() {
        this.reset();
        for (const [id, report] of reports()) this.set({ worker: String(id) }, reportedRequests(report));
      },
    });
  }

  #emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else this.#logger.error({ err: error }, 'cluster part failed');
  }
}

/** Re-exported for callers that handle the primary's events. */
export type { Backend, RemovalReason };
