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
import cluster, { type Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Gauge } from 'prom-client';
import { ListenError, NotRunningError, TlsError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { AdminServer, type AdminSource } from '../admin/admin-server.js';
import { METRIC_PREFIX, ProxyMetrics } from '../admin/proxy-metrics.js';
import { ControlPlane } from '../control-plane/control-plane.js';
import { TrustStore } from '../control-plane/trust-store.js';
import type { ProxyAddresses, ProxyServerEvents } from '../proxy-server.js';
import { BackendRegistry } from '../registry/backend-registry.js';
import type { Backend, RemovalReason } from '../registry/backend.js';
import { type ClusterOptions, type ResolvedClusterOptions, resolveClusterOptions } from './cluster-options.js';
import { ClusterStats } from './cluster-stats.js';
import { isOurs, isWorkerMessage, type PrimaryMessage, type WorkerMessage } from './cluster-messages.js';
import { reportedRequests } from './worker-report.js';

/** A worker that lived this long resets the replacement backoff, in ms. */
const STABLE_WORKER_MS = 10_000;
/** Extra time on top of the data plane's shutdown bound before stragglers are killed at stop, in ms. */
const STOP_GRACE_MS = 2_000;

interface WorkerEntry {
  readonly worker: Worker;
  readonly forkedAt: number;
  /** True once the worker said hello and was sent its config and a snapshot; only then are changes sent. */
  greeted: boolean;
  http: number | undefined;
  https: number | undefined;
}

interface IdleQuery {
  readonly waiting: Set<number>;
  readonly resolve: () => void;
}

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
  readonly #workers = new Map<number, WorkerEntry>();
  readonly #idleQueries = new Map<number, IdleQuery>();
  #nextQuery = 0;
  #controlPlane: ControlPlane | undefined;
  #trustStore: TrustStore | undefined;
  #ownsTrustStore = false;
  #admin: AdminServer | undefined;
  #ready = false;
  #stopping = false;
  #failures = 0;
  #respawnTimer: NodeJS.Timeout | undefined;
  #http: number | undefined;
  #https: number | undefined;
  #startPromise: Promise<ProxyAddresses> | undefined;
  #stopPromise: Promise<void> | undefined;

  /** @throws {InvalidOptionError} (`RP_ERR_INVALID_OPTION`) naming the bad option. */
  constructor(options: ClusterOptions) {
    super();
    this.options = resolveClusterOptions(options);
    this.#logger = this.options.logger.child({ component: 'cluster-primary' });
    this.registry.on('added', (backend) => {
      this.#broadcast({ type: 'inteli.added', version: this.registry.version, backend });
      this.emit('backend_added', backend);
    });
    this.registry.on('updated', (backend) => this.#broadcast({ type: 'inteli.updated', version: this.registry.version, backend }));
    this.registry.on('removed', (backend, reason) => {
      this.#broadcast({ type: 'inteli.removed', version: this.registry.version, backendId: backend.id, reason });
      this.emit('backend_removed', backend, reason);
    });
    this.metrics = new ProxyMetrics(
      {
        snapshot: () => this.snapshot(),
        trafficStats: this.#stats.traffic,
        clientBytes: () => this.#stats.clientBytes(),
        controlStats: () => this.#controlPlane?.stats(),
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
    const control = this.#controlPlane?.state === 'RUNNING' ? this.#controlPlane.address : undefined;
    return { http: at(this.#http), https: at(this.#https), control, admin: this.#admin?.boundAddress };
  }

  /** True once every worker listens, false again as soon as `stop()` is called. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Base64 SHA-256 pin of the control plane's certificate public key. */
  get pin(): string | undefined {
    return this.#controlPlane?.pin;
  }

  /** The control plane, once started. */
  get controlPlane(): ControlPlane | undefined {
    return this.#controlPlane;
  }

  /** Process ids of the live workers. */
  get workerPids(): number[] {
    return [...this.#workers.values()].map((entry) => entry.worker.process.pid ?? 0);
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
      await this.#startControlPlane();
      cluster.setupPrimary({ exec: this.options.workerExec ?? fileURLToPath(new URL('./worker-main.js', import.meta.url)) });
      cluster.on('message', this.#onMessage);
      cluster.on('exit', this.#onExit);
      const first = Array.from({ length: this.options.workers }, () => this.#fork());
      await Promise.all(first.map((entry) => this.#whenListening(entry)));
      if (this.options.admin !== undefined) {
        this.#admin = new AdminServer(this.options.admin, this.#adminSource(), this.options.logger);
        await this.#admin.start();
      }
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

  async #startControlPlane(): Promise<void> {
    const control = this.options.control;
    if (control === undefined) return;
    if (this.options.trustStore === undefined) {
      this.#trustStore = await TrustStore.open(this.options.certstore, { logger: this.options.logger });
      this.#ownsTrustStore = true;
      this.#trustStore.watch();
    } else {
      this.#trustStore = this.options.trustStore;
    }
    const controlPlane = new ControlPlane({
      ...control,
      registry: this.registry,
      trustStore: this.#trustStore,
      whenIdle: (backendId) => this.whenIdle(backendId),
      logger: this.options.logger,
    });
    controlPlane.on('backend_rejected', (rejection) => this.emit('backend_rejected', rejection));
    controlPlane.on('message', (event) => this.emit('message', event));
    controlPlane.on('error', (error) => this.#emitError(error));
    this.#controlPlane = controlPlane;
    await controlPlane.start();
  }

  /** Resolves once no live worker has a request or tunnel in flight on the backend. */
  whenIdle(backendId: string): Promise<void> {
    const waiting = new Set<number>();
    for (const [id, entry] of this.#workers) if (entry.greeted && entry.worker.isConnected()) waiting.add(id);
    if (waiting.size === 0) return Promise.resolve();
    this.#nextQuery += 1;
    const requestId = this.#nextQuery;
    return new Promise((resolve) => {
      this.#idleQueries.set(requestId, { waiting, resolve });
      for (const id of waiting) this.#sendTo(id, { type: 'inteli.idle?', requestId, backendId });
    });
  }

  /**
   * Stops gracefully; idempotent. Workers stop first (new requests get 503 + close while in-flight ones
   * finish), then the control plane (agents see 1001 and reconnect later), then the admin listener.
   */
  stop(): Promise<void> {
    this.#ready = false;
    // At once, not after the start settles: a Ctrl-C reaches the workers too, and their exits must not
    // be taken for deaths to replace.
    this.#stopping = true;
    this.#stopPromise ??= (async () => {
      await this.#startPromise?.catch(() => undefined);
      await this.#stopParts();
    })();
    return this.#stopPromise;
  }

  async #stopParts(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#respawnTimer);
    const workersGone = this.#stopWorkers();
    await this.#controlPlane?.stop();
    if (this.#ownsTrustStore) this.#trustStore?.unwatch();
    await workersGone;
    cluster.off('message', this.#onMessage);
    cluster.off('exit', this.#onExit);
    for (const query of this.#idleQueries.values()) query.resolve();
    this.#idleQueries.clear();
    this.registry.clear('stopped');
    await this.#admin?.stop();
    this.#logger.info('cluster stopped');
  }

  async #stopWorkers(): Promise<void> {
    const entries = [...this.#workers.values()];
    const exited = entries.map(
      ({ worker }) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          worker.once('exit', () => resolve());
        }),
    );
    for (const { worker } of entries) this.#sendTo(worker.id, { type: 'inteli.stop' });
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.options.dataPlane.shutdownTimeoutMs + STOP_GRACE_MS);
    });
    const outcome = await Promise.race([Promise.all(exited), bound]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.#logger.warn('workers did not stop in time: killing them');
      for (const { worker } of entries) if (!worker.isDead()) worker.process.kill('SIGKILL');
      await Promise.all(exited);
    }
  }

  #fork(): WorkerEntry {
    const worker = cluster.fork();
    const entry: WorkerEntry = { worker, forkedAt: Date.now(), greeted: false, http: undefined, https: undefined };
    this.#workers.set(worker.id, entry);
    this.#logger.info({ worker: worker.id, pid: worker.process.pid }, 'worker forked');
    return entry;
  }

  /** Sends a worker that said hello its config, then the snapshot; from then on it gets every change. */
  #greet(entry: WorkerEntry): void {
    if (entry.greeted) return;
    const worker = entry.worker;
    const { dataPlane } = this.options;
    // Config first, then the snapshot: IPC keeps order, and every later change is broadcast to this worker
    // too, numbered after the snapshot's version (changes before the hello are covered by the snapshot).
    this.#sendTo(worker.id, {
      type: 'inteli.config',
      config: {
        host: dataPlane.host,
        // Always the configured ports (0 included): Node's primary shares one listening handle per
        // (address, port) key, so a replacement asking for the bound port instead would collide with it.
        port: dataPlane.port,
        tlsPort: dataPlane.tlsPort,
        tls: dataPlane.tls,
        trustedProxies: dataPlane.trustedProxies,
        shutdownTimeoutMs: dataPlane.shutdownTimeoutMs,
        reportIntervalMs: this.options.reportIntervalMs,
        logLevel: this.options.logLevel,
      },
    });
    this.#sendSnapshot(worker.id);
    entry.greeted = true;
  }

  #whenListening(entry: WorkerEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      const onListening = (message: unknown): void => {
        if (!isWorkerMessage(message) || (message.type !== 'inteli.listening' && message.type !== 'inteli.failed')) return;
        entry.worker.off('exit', onExit);
        entry.worker.off('message', onListening);
        if (message.type === 'inteli.listening') resolve();
        else reject(message.code === 'RP_ERR_TLS' ? new TlsError(message.message) : new ListenError(message.message));
      };
      const onExit = (code: number | null): void => {
        entry.worker.off('message', onListening);
        reject(new ListenError(`cluster worker ${entry.worker.id} exited (code ${code}) before its data plane listened; see its log`));
      };
      entry.worker.on('message', onListening);
      entry.worker.once('exit', onExit);
    });
  }

  #sendSnapshot(workerId: number): void {
    this.#sendTo(workerId, { type: 'inteli.snapshot', version: this.registry.version, backends: this.registry.list() });
  }

  #broadcast(message: PrimaryMessage): void {
    for (const [id, entry] of this.#workers) if (entry.greeted) this.#sendTo(id, message);
  }

  #sendTo(workerId: number, message: PrimaryMessage): void {
    const worker = this.#workers.get(workerId)?.worker;
    if (worker === undefined || !worker.isConnected()) return;
    try {
      worker.send(message);
    } catch (error) {
      // The channel is closing (the worker is exiting); its exit is handled by #onExit.
      this.#logger.debug({ err: (error as Error).message, worker: workerId }, 'could not send to a worker');
    }
  }

  readonly #onMessage = (worker: Worker, message: unknown): void => {
    const entry = this.#workers.get(worker.id);
    if (entry === undefined) return;
    if (!isWorkerMessage(message)) {
      if (isOurs(message)) this.#logger.warn({ worker: worker.id }, 'malformed message from a worker: ignored');
      return;
    }
    this.#handle(entry, message);
  };

  #handle(entry: WorkerEntry, message: WorkerMessage): void {
    const id = entry.worker.id;
    switch (message.type) {
      case 'inteli.hello':
        this.#greet(entry);
        return;
      case 'inteli.listening':
        entry.http = message.http;
        entry.https = message.https;
        // The first worker's ports are the cluster's: with port 0, Node hands every worker the same port.
        this.#http ??= message.http;
        this.#https ??= message.https;
        return;
      case 'inteli.failed':
        // During start, #whenListening turns this into the start's error; later the exit is handled.
        return;
      case 'inteli.resync':
        this.#logger.warn({ worker: id, version: message.version }, 'worker saw a registry gap: sending a snapshot');
        this.#sendSnapshot(id);
        return;
      case 'inteli.idle':
        this.#answered(message.requestId, id);
        return;
      case 'inteli.report':
        this.#stats.update(id, message.report);
        return;
    }
  }

  #answered(requestId: number, workerId: number): void {
    const query = this.#idleQueries.get(requestId);
    if (query === undefined) return;
    query.waiting.delete(workerId);
    if (query.waiting.size > 0) return;
    this.#idleQueries.delete(requestId);
    query.resolve();
  }

  readonly #onExit = (worker: Worker, code: number | null, signal: string | null): void => {
    const entry = this.#workers.get(worker.id);
    if (entry === undefined) return;
    this.#workers.delete(worker.id);
    this.#stats.retire(worker.id);
    // A dead worker has nothing in flight: it counts as idle for every pending drain.
    for (const requestId of [...this.#idleQueries.keys()]) this.#answered(requestId, worker.id);
    if (this.#stopping) {
      this.#logger.info({ worker: worker.id, code, signal }, 'worker stopped');
      return;
    }
    this.#failures = Date.now() - entry.forkedAt >= STABLE_WORKER_MS ? 1 : this.#failures + 1;
    const delay = Math.min(this.options.respawnMaxDelayMs, this.options.respawnDelayMs * 2 ** (this.#failures - 1));
    this.#logger.error({ worker: worker.id, pid: worker.process.pid, code, signal, respawnInMs: delay }, 'worker died: forking a replacement');
    this.#scheduleRespawn(delay);
  };

  #scheduleRespawn(delay: number): void {
    if (this.#respawnTimer !== undefined) return;
    this.#respawnTimer = setTimeout(() => {
      this.#respawnTimer = undefined;
      if (this.#stopping) return;
      const missing = this.options.workers - this.#workers.size;
      for (let index = 0; index < missing; index += 1) this.#fork();
    }, delay);
  }

  #addClusterMetrics(): void {
    const registers = [this.metrics.registry];
    const workers = (): Map<number, WorkerEntry> => this.#workers;
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

  #adminSource(): AdminSource {
    const isReady = (): boolean => this.#ready;
    return {
      registry: this.registry,
      metrics: this.metrics,
      trafficStats: this.#stats.traffic,
      events: this,
      sessionEvents: this.#controlPlane,
      get ready(): boolean {
        return isReady();
      },
      snapshot: () => this.snapshot(),
      listenerAddresses: () => ({ ...this.addresses }),
      trustedKeys: () => this.#trustStore?.list(),
      controlSessions: () => this.#controlPlane?.sessions() ?? [],
      trustStore: () => this.#trustStore,
      controlStats: () => this.#controlPlane?.stats(),
    };
  }

  #emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else this.#logger.error({ err: error }, 'cluster part failed');
  }
}

/** Re-exported for callers that handle the primary's events. */
export type { Backend, RemovalReason };
