/**
 * The primary of a multi-process proxy (Node `cluster`): a {@link ProxyHost} over a {@link WorkerPool}.
 * The host owns the authority: the trust store, the control plane (agents connect once, here), the admin
 * listener and the {@link BackendRegistry}. The pool forks N workers, each a data plane on the shared
 * HTTP/HTTPS ports (Node's primary accepts connections and hands them out round-robin on Linux), and
 * publishes the registry to them: a snapshot when a worker starts, then every change in order with the
 * registry version, so a worker that sees a gap asks again.
 *
 * Drain spans every worker: the control plane's `whenIdle(backendId)` resolves once every live worker has
 * answered that the backend is idle there (a worker that dies counts as idle). A worker that dies is
 * replaced after a backoff that doubles while replacements keep dying. Start and stop follow the host's
 * order: the workers are told to stop gracefully before the control plane closes (so requests during the
 * stop get 503 + close, not 403), and the admin listener closes last.
 */
import { Gauge } from 'prom-client';
import { METRIC_PREFIX } from '../admin/proxy-metrics.js';
import { ProxyHost } from '../proxy-host.js';
import { BackendRegistry } from '../registry/backend-registry.js';
import type { Backend, RemovalReason } from '../registry/backend.js';
import { type ClusterOptions, type ResolvedClusterOptions, resolveClusterOptions } from './cluster-options.js';
import { ClusterStats } from './cluster-stats.js';
import { WorkerPool } from './worker-pool.js';
import { reportedRequests } from './worker-report.js';

/** The primary process of a cluster of proxies. Emits the same events as `ProxyServer`. */
export class ClusterPrimary extends ProxyHost<WorkerPool> {
  /** The resolved, frozen options. */
  readonly options: ResolvedClusterOptions;
  readonly #stats: ClusterStats;
  #stopped: Promise<void> | undefined;

  /**
   * Builds every part; nothing is forked or bound until `start()`.
   *
   * @throws {InvalidOptionError} (`RP_ERR_INVALID_OPTION`) naming the bad option.
   * @throws {TlsError} (`RP_ERR_TLS`) when the control plane's certificate or key is unusable.
   */
  constructor(options: ClusterOptions) {
    const resolved = resolveClusterOptions(options);
    const registry = new BackendRegistry();
    const stats = new ClusterStats();
    const pool = new WorkerPool({
      size: resolved.workers,
      config: { ...resolved.dataPlane, reportIntervalMs: resolved.reportIntervalMs, logLevel: resolved.logLevel, logFormat: resolved.logFormat },
      registry,
      stats,
      respawnDelayMs: resolved.respawnDelayMs,
      respawnMaxDelayMs: resolved.respawnMaxDelayMs,
      workerExec: resolved.workerExec,
      logger: resolved.logger.child({ component: 'cluster-primary' }),
    });
    super(resolved, registry, pool, 'cluster-primary');
    this.options = resolved;
    this.#stats = stats;
    this.#addClusterMetrics();
  }

  /** Live worker processes. */
  get workers(): number {
    return this.forwarding.size;
  }

  /** Stops as the host does, then logs `cluster stopped`. Idempotent. */
  override stop(): Promise<void> {
    const stopping = super.stop();
    this.#stopped ??= stopping.then(() => this.logger.info('cluster stopped'));
    return this.#stopped;
  }

  #addClusterMetrics(): void {
    const registers = [this.metrics.registry];
    const pool = this.forwarding;
    const stats = this.#stats;
    new Gauge({
      name: `${METRIC_PREFIX}cluster_workers`,
      help: 'Live cluster worker processes.',
      registers,
      collect() {
        this.set(pool.size);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}cluster_worker_requests`,
      help: 'Requests answered by each live worker, as of its latest report (for balance; totals are in inteli_requests_total).',
      labelNames: ['worker'],
      registers,
      collect() {
        this.reset();
        for (const [id, report] of stats.reports()) this.set({ worker: String(id) }, reportedRequests(report));
      },
    });
  }
}

/** Re-exported for callers that handle the primary's events. */
export type { Backend, RemovalReason };
