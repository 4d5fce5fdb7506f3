/**
 * One cluster worker: a data plane (no control plane, no admin) on the shared HTTP/HTTPS ports, routing
 * from a {@link RegistryReplica} of the primary's registry. It talks to the primary only through
 * validated IPC messages: a malformed one is logged and ignored. It stops gracefully on `stop`, on
 * SIGTERM/SIGINT (a Ctrl-C reaches the whole process group) and when the primary goes away.
 */
import { DataPlane } from '../data-plane/data-plane.js';
import { resolveDataPlaneOptions } from '../data-plane/data-plane-options.js';
import { BackendRegistry } from '../registry/backend-registry.js';
import { isProxyError } from '../../shared/errors.js';
import { createLogger, type Logger } from '../../shared/logger.js';
import { LOG_LEVELS, type LogLevel } from '../../shared/env.js';
import { isOurs, isPrimaryMessage, type PrimaryMessage, type WorkerConfig, type WorkerMessage } from './cluster-messages.js';
import type { WorkerDataPlaneSettings } from './cluster-options.js';
import { RegistryReplica } from './registry-replica.js';
import { collectReport } from './worker-report.js';

/** The IPC channel of a forked process (`process` in a worker; a fake in unit tests). */
export interface WorkerChannel {
  send(message: WorkerMessage): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
}

type WorkerState = 'waiting' | 'running' | 'stopping' | 'stopped';

function logLevelOf(raw: string): LogLevel {
  return LOG_LEVELS.find((level) => level === raw) ?? 'info';
}

/** The worker's side of the cluster. */
export class ClusterWorker {
  readonly registry = new BackendRegistry();
  readonly #replica = new RegistryReplica(this.registry);
  readonly #channel: WorkerChannel;
  readonly #pid: number;
  #logger: Logger;
  /** The worker's root logger once configured (its level follows reloads). */
  #baseLogger: Logger | undefined;
  #dataPlane: DataPlane | undefined;
  #state: WorkerState = 'waiting';
  #reportTimer: NodeJS.Timeout | undefined;
  #stopPromise: Promise<void> | undefined;
  /** What the routes of the last report were, so unchanged routes are not sent again. */
  #routesDigest: string | undefined;

  /** @param logger used until the primary's config names a level. */
  constructor(channel: WorkerChannel, logger: Logger, pid: number = process.pid) {
    this.#channel = channel;
    this.#logger = logger;
    this.#pid = pid;
    channel.on('message', (message) => this.#onMessage(message));
    channel.on('disconnect', () => {
      this.#logger.warn('the primary went away: stopping');
      void this.stop();
    });
    // The primary waits for this before sending anything: a message that arrives before the listener
    // above is attached (module loading is asynchronous) would be lost.
    this.#send({ type: 'inteli.hello' });
  }

  /** The running data plane, once configured. */
  get dataPlane(): DataPlane | undefined {
    return this.#dataPlane;
  }

  /** Stops the data plane gracefully; idempotent. */
  stop(): Promise<void> {
    this.#stopPromise ??= (async () => {
      this.#state = 'stopping';
      clearInterval(this.#reportTimer);
      await this.#dataPlane?.stop();
      this.#state = 'stopped';
    })();
    return this.#stopPromise;
  }

  #onMessage(message: unknown): void {
    if (!isPrimaryMessage(message)) {
      if (isOurs(message)) this.#logger.warn({ type: (message as { type: string }).type }, 'malformed message from the primary: ignored');
      return;
    }
    try {
      this.#handle(message);
    } catch (error) {
      this.#logger.error({ err: (error as Error).message, type: message.type }, 'failed to handle a message from the primary');
    }
  }

  #handle(message: PrimaryMessage): void {
    switch (message.type) {
      case 'inteli.config':
        this.#configure(message.config);
        return;
      case 'inteli.settings':
        this.#reconfigure(message.dataPlane, message.logLevel);
        return;
      case 'inteli.snapshot':
      case 'inteli.added':
      case 'inteli.updated':
      case 'inteli.removed':
      case 'inteli.reserved':
        if (this.#replica.apply(message) === 'resync') {
          this.#logger.warn({ version: message.version }, 'registry version gap: asking the primary for a snapshot');
          this.#send({ type: 'inteli.resync', version: message.version });
        }
        return;
      case 'inteli.idle?': {
        const { requestId, backendId } = message;
        const idle = this.#dataPlane?.whenIdle(backendId) ?? Promise.resolve();
        idle.then(
          () => this.#send({ type: 'inteli.idle', requestId }),
          () => this.#send({ type: 'inteli.idle', requestId }),
        );
        return;
      }
      case 'inteli.report?':
        this.#report();
        return;
      case 'inteli.stop':
        void this.stop();
        return;
    }
  }

  #configure(config: WorkerConfig): void {
    if (this.#state !== 'waiting') return;
    this.#state = 'running';
    // The data plane names its own component; both carry the worker's pid.
    const root = createLogger({ level: logLevelOf(config.logLevel), format: config.logFormat ?? 'json' });
    this.#baseLogger = root;
    const base = root.child({ worker: this.#pid });
    this.#logger = base.child({ component: 'cluster-worker' });
    const dataPlane = new DataPlane(
      this.registry,
      resolveDataPlaneOptions({
        ...config.settings,
        host: config.host,
        port: config.port,
        tlsPort: config.tlsPort,
        tls: config.tls,
        trustedProxies: config.trustedProxies,
        shutdownTimeoutMs: config.shutdownTimeoutMs,
        bodyTimeoutMs: config.bodyTimeoutMs,
        affinity: config.affinity,
        ...(config.affinityHeader === undefined ? {} : { affinityHeader: config.affinityHeader }),
        // Every worker must sign and verify affinity cookies with the primary's secret.
        affinitySecret: Buffer.from(config.affinitySecret, 'hex'),
        proxyId: config.proxyId,
        maxTunnelsPerTarget: config.maxTunnelsPerTarget,
        logger: base,
      }),
    );
    dataPlane.on('error', (error) => this.#logger.error({ err: error.message }, 'data plane error'));
    this.#dataPlane = dataPlane;
    dataPlane.start().then(
      (addresses) => {
        if (addresses.http === undefined) return;
        this.#send({ type: 'inteli.listening', http: addresses.http.port, https: addresses.https?.port });
        if (config.reportIntervalMs > 0) {
          this.#reportTimer = setInterval(() => this.#report(), config.reportIntervalMs);
          this.#reportTimer.unref();
        }
      },
      (error: unknown) => {
        // The primary sees the exit and decides (it stops forking replacements that fail at once).
        this.#logger.error({ err: (error as Error).message }, 'the data plane could not start');
        this.#send({ type: 'inteli.failed', code: isProxyError(error) ? error.code : 'RP_ERR_LISTEN', message: (error as Error).message.slice(0, 1024) });
        process.exitCode = 1;
        void this.stop().then(() => process.exit(1));
      },
    );
  }

  /** A reload: new live options for new requests, and the new log level. A bad value is logged, never applied. */
  #reconfigure(change: WorkerDataPlaneSettings, logLevel: string | undefined): void {
    if (logLevel !== undefined && this.#baseLogger !== undefined) this.#baseLogger.level = logLevelOf(logLevel);
    this.#dataPlane?.reconfigure(change).catch((error: unknown) => {
      this.#logger.error({ err: (error as Error).message }, 'new settings refused; keeping the current ones');
    });
  }

  #report(): void {
    if (this.#dataPlane === undefined || this.#state !== 'running') return;
    const { report, digest } = collectReport(this.#dataPlane, this.#pid, this.registry.version, this.#routesDigest);
    this.#routesDigest = digest;
    this.#send({ type: 'inteli.report', report });
  }

  #send(message: WorkerMessage): void {
    try {
      this.#channel.send(message);
    } catch (error) {
      // The channel closes when the primary goes away; the disconnect handler stops the worker.
      this.#logger.debug({ err: (error as Error).message }, 'could not send to the primary');
    }
  }
}
