/**
 * The primary's worker processes: forks them, greets each with its config and a registry snapshot,
 * publishes every registry change to them in order, answers drain queries across them, replaces the ones
 * that die (with a backoff that doubles while replacements keep dying) and stops them gracefully.
 * It reads the registry and writes worker reports to {@link ClusterStats}; it knows nothing of the
 * control plane or the admin listener. It is the {@link Forwarding} of the cluster's primary: addresses,
 * snapshot and traffic counters come from the workers' latest reports.
 */
import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { InvalidOptionError, ListenError, TlsError } from '../../shared/errors.js';
import type { LogLevel } from '../../shared/env.js';
import { resolveDataPlaneOptions } from '../data-plane/data-plane-options.js';
import { type LiveDataPlaneOptions, withLiveOptions } from '../data-plane/live-options.js';
import { SELECTORS } from '../data-plane/selectors/index.js';
import type { WorkerSettingValue } from './cluster-options.js';
import type { Logger } from '../../shared/logger.js';
import type { DataPlaneAddresses, DataPlaneSnapshot, DataPlaneState } from '../data-plane/data-plane.js';
import type { TrafficStats } from '../data-plane/traffic-stats.js';
import type { Forwarding } from '../forwarding.js';
import type { BackendRegistry } from '../registry/backend-registry.js';
import type { Backend, RemovalReason, RouteRule } from '../registry/backend.js';
import { isOurs, isWorkerMessage, type PrimaryMessage, type WorkerConfig, type WorkerMessage } from './cluster-messages.js';
import type { ClusterStats } from './cluster-stats.js';
import { nextFailureCount, respawnDelayMs } from './respawn-backoff.js';

/** A worker that lived this long resets the replacement backoff, in ms. */
const STABLE_WORKER_MS = 10_000;
/** Extra time on top of the data plane's shutdown bound before stragglers are killed at stop, in ms. */
const STOP_GRACE_MS = 2_000;

/** What a {@link WorkerPool} needs. */
export interface WorkerPoolOptions {
  /** Worker processes to keep running. */
  readonly size: number;
  /** Sent to every worker when it says hello. */
  readonly config: WorkerConfig;
  /** The authoritative registry, published to the workers. */
  readonly registry: BackendRegistry;
  /** Where worker reports go. */
  readonly stats: ClusterStats;
  readonly respawnDelayMs: number;
  readonly respawnMaxDelayMs: number;
  /** Module the workers run. Default the compiled `worker-main.js` next to this file. */
  readonly workerExec: string | undefined;
  readonly logger: Logger;
}

interface WorkerEntry {
  readonly worker: Worker;
  readonly forkedAt: number;
  /** True once the worker said hello and was sent its config and a snapshot; only then are changes sent. */
  greeted: boolean;
}

interface IdleQuery {
  readonly waiting: Set<number>;
  readonly resolve: () => void;
}

/** Bound ports of the data plane shared by the workers. */
export interface SharedPorts {
  readonly http: number;
  readonly https: number | undefined;
}

/** The cluster's worker processes. */
export class WorkerPool implements Forwarding {
  readonly #options: WorkerPoolOptions;
  /** What a worker is sent when it says hello: the options' config with every reload applied. */
  #config: WorkerConfig;
  readonly #logger: Logger;
  readonly #workers = new Map<number, WorkerEntry>();
  readonly #idleQueries = new Map<number, IdleQuery>();
  #nextQuery = 0;
  #stopping = false;
  #state: DataPlaneState = 'idle';
  #failures = 0;
  #respawnTimer: NodeJS.Timeout | undefined;
  #ports: SharedPorts | undefined;
  #stopPromise: Promise<void> | undefined;

  readonly #onAdded = (backend: Backend): void => {
    this.#broadcast({ type: 'inteli.added', version: this.#options.registry.version, backend });
  };
  readonly #onUpdated = (backend: Backend): void => {
    this.#broadcast({ type: 'inteli.updated', version: this.#options.registry.version, backend });
  };
  readonly #onRemoved = (backend: Backend, reason: RemovalReason): void => {
    this.#broadcast({ type: 'inteli.removed', version: this.#options.registry.version, backendId: backend.id, reason });
  };
  readonly #onReserved = (rules: readonly RouteRule[]): void => {
    this.#broadcast({ type: 'inteli.reserved', version: this.#options.registry.version, rules });
  };

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    this.#config = options.config;
    this.#logger = options.logger;
  }

  /** Live workers. */
  get size(): number {
    return this.#workers.size;
  }

  /** The shared data-plane ports, once the first worker listens. */
  get ports(): SharedPorts | undefined {
    return this.#ports;
  }

  /** The shared data-plane addresses (the workers' listen host and shared ports); empty before start. */
  get addresses(): DataPlaneAddresses {
    const host = this.#config.host;
    const family = host.includes(':') ? 'IPv6' : 'IPv4';
    const at = (port: number | undefined): AddressInfo | undefined => (port === undefined ? undefined : { address: host, family, port });
    return { http: at(this.#ports?.http), https: at(this.#ports?.https) };
  }

  /** Routes and in-flight counts summed over the workers' latest reports. */
  snapshot(): DataPlaneSnapshot {
    return this.#options.stats.snapshot(this.#state);
  }

  /** Traffic counters summed over the workers' reports. */
  get stats(): TrafficStats {
    return this.#options.stats.traffic;
  }

  /** Bytes read from and written to clients, summed over the workers' reports. */
  clientBytes(): { readonly bytesIn: number; readonly bytesOut: number } {
    return this.#options.stats.clientBytes();
  }

  /**
   * Forks the workers and resolves with the shared ports once every one listens.
   *
   * @throws {ListenError} or {TlsError} with a worker's own error when its data plane cannot start.
   */
  async start(): Promise<SharedPorts> {
    const registry = this.#options.registry;
    cluster.setupPrimary({ exec: this.#options.workerExec ?? fileURLToPath(new URL('./worker-main.js', import.meta.url)) });
    cluster.on('message', this.#onMessage);
    cluster.on('exit', this.#onExit);
    registry.on('added', this.#onAdded);
    registry.on('updated', this.#onUpdated);
    registry.on('removed', this.#onRemoved);
    registry.on('reserved', this.#onReserved);
    if (this.#state === 'idle') this.#state = 'starting';
    const first = Array.from({ length: this.#options.size }, () => this.#fork());
    await Promise.all(first.map((entry) => this.#whenListening(entry)));
    if (this.#ports === undefined) throw new ListenError('no cluster worker reported its ports');
    if (this.#state === 'starting') this.#state = 'running';
    return this.#ports;
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
   * A reload: checks the new live options here (the workers' resolver would refuse the same values),
   * sends them to every worker, keeps them for workers forked later, and resolves once every live
   * worker applied them (IPC to a worker is ordered, so its answer to a later query proves it).
   *
   * @throws {InvalidOptionError} naming the option; nothing is sent then.
   */
  async reconfigure(change: LiveDataPlaneOptions, logLevel?: LogLevel): Promise<void> {
    if (change.selector !== undefined && typeof change.selector !== 'string') {
      throw new InvalidOptionError(`selector: in a cluster, one of ${Object.keys(SELECTORS).join(', ')} (a factory cannot reach the workers)`);
    }
    withLiveOptions(resolveDataPlaneOptions({}), change);
    const settings: Record<string, WorkerSettingValue> = {};
    for (const [name, value] of Object.entries(change)) {
      if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') settings[name] = value;
    }
    if (typeof change.accessLog === 'object') settings.accessLog = { query: change.accessLog.query === true };
    const trustedProxies = change.trustedProxies === undefined ? this.#config.trustedProxies : Object.freeze([...change.trustedProxies]);
    if (change.trustedProxies !== undefined) settings.trustedProxies = trustedProxies;
    const { trustedProxies: _listed, ...kept } = settings;
    this.#config = Object.freeze({ ...this.#config, settings: Object.freeze({ ...this.#config.settings, ...kept }), trustedProxies, logLevel: logLevel ?? this.#config.logLevel });
    this.#broadcast({ type: 'inteli.settings', dataPlane: settings, logLevel });
    await this.whenIdle('');
  }

  /**
   * Resolves once every live worker has applied the registry changes sent so far. IPC to a worker is
   * ordered, so a worker's answer to a query sent after a change proves it has applied that change; a
   * drain query on the backend is such a query, and a new backend has nothing in flight to wait for.
   */
  whenRouted(backendId: string): Promise<void> {
    return this.whenIdle(backendId);
  }

  /** No more replacements from now on (a Ctrl-C reaches the workers too: their exits are not deaths). */
  markStopping(): void {
    this.#stopping = true;
    if (this.#state !== 'stopped') this.#state = 'stopping';
    clearTimeout(this.#respawnTimer);
  }

  /**
   * Tells every worker to stop (synchronously, before the first await, so the caller can close other
   * parts meanwhile) and resolves once all exited; stragglers are killed after the shutdown bound plus
   * 2 s. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopPromise ??= this.#stop();
    return this.#stopPromise;
  }

  async #stop(): Promise<void> {
    this.markStopping();
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
      timer = setTimeout(() => resolve('timeout'), this.#config.shutdownTimeoutMs + STOP_GRACE_MS);
    });
    const outcome = await Promise.race([Promise.all(exited), bound]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.#logger.warn('workers did not stop in time: killing them');
      for (const { worker } of entries) if (!worker.isDead()) worker.process.kill('SIGKILL');
      await Promise.all(exited);
    }
    const registry = this.#options.registry;
    registry.off('added', this.#onAdded);
    registry.off('updated', this.#onUpdated);
    registry.off('removed', this.#onRemoved);
    registry.off('reserved', this.#onReserved);
    cluster.off('message', this.#onMessage);
    cluster.off('exit', this.#onExit);
    for (const query of this.#idleQueries.values()) query.resolve();
    this.#idleQueries.clear();
    this.#state = 'stopped';
  }

  #fork(): WorkerEntry {
    const worker = cluster.fork();
    const entry: WorkerEntry = { worker, forkedAt: Date.now(), greeted: false };
    this.#workers.set(worker.id, entry);
    this.#logger.info({ worker: worker.id, pid: worker.process.pid }, 'worker forked');
    return entry;
  }

  /** Sends a worker that said hello its config, then the snapshot; from then on it gets every change. */
  #greet(entry: WorkerEntry): void {
    if (entry.greeted) return;
    // Config first, then the snapshot: IPC keeps order, and every later change is broadcast to this worker
    // too, numbered after the snapshot's version (changes before the hello are covered by the snapshot).
    // The config carries the configured ports (0 included), never the bound ones: Node's primary shares
    // one listening handle per (address, port) key, so asking for the bound port would collide with it.
    this.#sendTo(entry.worker.id, { type: 'inteli.config', config: this.#config });
    this.#sendSnapshot(entry.worker.id);
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
    const registry = this.#options.registry;
    this.#sendTo(workerId, { type: 'inteli.snapshot', version: registry.version, backends: registry.list(), reserved: registry.reserved });
  }

  #broadcast(message: PrimaryMessage): void {
    for (const [id, entry] of this.#workers) if (entry.greeted) this.#sendTo(id, message);
  }

  #sendTo(workerId: number, message: PrimaryMessage): void {
    const worker = this.#workers.get(workerId)?.worker;
    if (worker === undefined || !worker.isConnected()) return;
    const failed = (error: Error): void => {
      // The channel is closing (the worker is exiting); its exit is handled by #onExit.
      this.#logger.debug({ err: error.message, worker: workerId }, 'could not send to a worker');
    };
    try {
      // With a callback, a write that fails later (EPIPE from a worker exiting, as when its bind failed
      // and the pool stops) is reported here instead of as an 'error' event nobody listens to, which
      // would crash the primary.
      worker.send(message, (error) => {
        if (error !== null) failed(error);
      });
    } catch (error) {
      failed(error as Error);
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
        // The first worker's ports are the cluster's: with port 0, Node hands every worker the same port.
        this.#ports ??= { http: message.http, https: message.https };
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
        this.#options.stats.update(id, message.report);
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
    this.#options.stats.retire(worker.id);
    // A dead worker has nothing in flight: it counts as idle for every pending drain.
    for (const requestId of [...this.#idleQueries.keys()]) this.#answered(requestId, worker.id);
    if (this.#stopping) {
      this.#logger.info({ worker: worker.id, code, signal }, 'worker stopped');
      return;
    }
    this.#failures = nextFailureCount(this.#failures, Date.now() - entry.forkedAt, STABLE_WORKER_MS);
    const delay = respawnDelayMs(this.#failures, this.#options.respawnDelayMs, this.#options.respawnMaxDelayMs);
    this.#logger.error({ worker: worker.id, pid: worker.process.pid, code, signal, respawnInMs: delay }, 'worker died: forking a replacement');
    this.#scheduleRespawn(delay);
  };

  #scheduleRespawn(delay: number): void {
    if (this.#respawnTimer !== undefined) return;
    this.#respawnTimer = setTimeout(() => {
      this.#respawnTimer = undefined;
      if (this.#stopping) return;
      const missing = this.#options.size - this.#workers.size;
      for (let index = 0; index < missing; index += 1) this.#fork();
    }, delay);
  }
}
