/**
 * The admin listener (loopback by default, port 3090): `/healthz`, `/readyz`, `/metrics`,
 * `/api/status` and the status page at `/`. It is started after the data and control planes and stopped
 * last, so `/readyz` answers 503 while the proxy drains.
 *
 * It owns one timer, the rate sampler's, started and cleared with the listener; and it subscribes to the
 * proxy's backend and session events for the recent-events log while it runs.
 *
 * Access: when `requireAuth` is on (always for a non-loopback host), `/metrics` and `/api/*` need an
 * admin bearer token ({@link AdminAuth}); `/healthz` and `/readyz` stay open because probes cannot sign
 * tokens and reveal only a boolean; `/` is the page shell, which carries no data and asks for a token.
 * Without `requireAuth`, `/`, `/metrics` and `/api/*` answer only requests whose `Host` is a loopback
 * name or one of `allowedHosts` (421 otherwise): DNS rebinding must not turn a browser on this machine
 * into a reader of the status API ({@link AdminHostCheck}). A forwarded request (one carrying `Via`,
 * `Forwarded` or `X-Forwarded-For`) never gets loopback trust: it needs a token.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ListenError, NotRunningError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { TrustStore } from '../../shared/trust/trust-store.js';
import { trustStaleness } from '../../shared/trust/trust-staleness.js';
import type { ControlPlaneStats } from '../control-plane/control-plane-stats.js';
import type { SessionInfo } from '../control-plane/session.js';
import type { Forwarding } from '../forwarding.js';
import { AdminAuth } from './admin-auth.js';
import { AdminHostCheck } from './admin-host-check.js';
import { ControlEventRecorder, type BackendEventSource, type SessionEventSource } from './control-event-recorder.js';
import type { ResolvedAdminOptions } from './admin-options.js';
import { EventLog } from './event-log.js';
import type { ProxyMetrics } from './proxy-metrics.js';
import { RateSampler } from './rate-sampler.js';
import { TrafficWindow } from './traffic-window.js';
import { buildStatusReport, type StatusSource } from './status-report.js';
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML } from './status-page.js';

/** How many removed backends the status API lists. */
const REMOVED_LIMIT = 50;
/** Bound on closing the listener's connections at stop, in milliseconds. */
const CLOSE_TIMEOUT_MS = 1_000;

/** The control plane as the admin listener reads it: session events, live sessions and counters. */
export interface AdminControlPlane extends SessionEventSource {
  sessions(): readonly SessionInfo[];
  /** Counters; auth failures are logged as events from their increase. */
  stats(): ControlPlaneStats;
}

/**
 * What the admin listener reads of its host (a `ProxyHost`: a `ProxyServer` or a cluster primary): the
 * host itself is the source of backend events, and its parts are read through these narrow views.
 */
export interface AdminHost extends StatusSource, BackendEventSource {
  readonly metrics: ProxyMetrics;
  /** The traffic counters behind the request-rate chart. */
  readonly forwarding: Pick<Forwarding, 'stats'>;
  /** The trust store admin tokens are checked against; undefined refuses every token. */
  readonly trustStore: TrustStore | undefined;
  /** The control plane, when enabled. */
  readonly controlPlane: AdminControlPlane | undefined;
}

type AdminState = 'idle' | 'running' | 'stopping' | 'stopped';

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** The admin HTTP listener. */
export class AdminServer {
  readonly #options: ResolvedAdminOptions;
  readonly #host: AdminHost;
  readonly #logger: Logger;
  readonly #auth: AdminAuth;
  readonly #hosts: AdminHostCheck;
  readonly #events: EventLog;
  readonly #rates: RateSampler;
  readonly #traffic: TrafficWindow;
  readonly #server: Server;
  #state: AdminState = 'idle';
  #address: AddressInfo | undefined;
  #timer: NodeJS.Timeout | undefined;
  #startPromise: Promise<AddressInfo> | undefined;
  #stopPromise: Promise<void> | undefined;
  #startedAt: number | undefined;
  readonly #recorder: ControlEventRecorder;

  readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    this.#handle(req, res).catch((error: unknown) => {
      this.#logger.error({ err: (error as Error).message, path: req.url }, 'admin request failed');
      if (!res.headersSent) this.#send(res, 500, 'application/json; charset=utf-8', JSON.stringify({ error: 'INTERNAL' }));
      else res.destroy();
    });
  };

  /**
   * Builds the listener without binding it (`start()` does).
   *
   * @param options resolved with `resolveAdminOptions`.
   * @param host read on every request; its backend and session events are recorded while running.
   */
  constructor(options: ResolvedAdminOptions, host: AdminHost, logger: Logger) {
    this.#options = options;
    this.#host = host;
    this.#logger = logger.child({ component: 'admin' });
    this.#auth = new AdminAuth(options.requireAuth, options.audience, () => host.trustStore);
    this.#hosts = new AdminHostCheck(options.allowedHosts);
    this.#events = new EventLog(options.eventBufferSize);
    this.#recorder = new ControlEventRecorder(this.#events, host, host.controlPlane, () => host.controlPlane?.stats());
    this.#rates = new RateSampler(options.historySamples, () => host.forwarding.stats.pairs());
    this.#traffic = new TrafficWindow(options.historySamples, () => host.forwarding.stats);
    this.#server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, this.#onRequest);
  }

  /** The bound address. @throws {NotRunningError} when not listening. */
  get address(): AddressInfo {
    if (this.#address === undefined || this.#state !== 'running') throw new NotRunningError('the admin listener is not running');
    return this.#address;
  }

  /** The bound address, or undefined when not listening. */
  get boundAddress(): AddressInfo | undefined {
    return this.#state === 'running' ? this.#address : undefined;
  }

  /** Recent events, newest first (also in the status API). */
  events(): ReturnType<EventLog['list']> {
    return this.#events.list();
  }

  /** Listens; idempotent. @throws {ListenError} naming host:port. */
  start(): Promise<AddressInfo> {
    if (this.#stopPromise !== undefined) return Promise.reject(new NotRunningError('the admin listener was stopped'));
    this.#startPromise ??= this.#start();
    return this.#startPromise;
  }

  async #start(): Promise<AddressInfo> {
    const { host, port } = this.#options;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(new ListenError(`admin listener cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    this.#server.on('error', (error) => this.#logger.error({ err: error.message }, 'admin listener error'));
    this.#address = this.#server.address() as AddressInfo;
    this.#state = 'running';
    this.#startedAt = Date.now();
    this.#recorder.start();
    this.#timer = setInterval(() => this.#tick(), this.#options.sampleIntervalMs);
    this.#timer.unref();
    this.#logger.info({ address: `${this.#address.address}:${this.#address.port}`, auth: this.#options.requireAuth }, 'admin listener up');
    return this.#address;
  }

  /** Stops listening and clears the sampler; idempotent. */
  stop(): Promise<void> {
    this.#stopPromise ??= (async () => {
      await this.#startPromise?.catch(() => undefined);
      if (this.#state !== 'running') {
        this.#state = 'stopped';
        return;
      }
      this.#state = 'stopping';
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#recorder.stop();
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#server.closeIdleConnections();
      const guard = setTimeout(() => this.#server.closeAllConnections(), CLOSE_TIMEOUT_MS);
      await closed;
      clearTimeout(guard);
      this.#state = 'stopped';
    })();
    return this.#stopPromise;
  }

  /** Samples request rates and logs control-plane auth failures that happened since the last tick. */
  #tick(): void {
    try {
      this.#rates.sample();
      this.#traffic.checkpoint();
      this.#recorder.tick();
    } catch (error) {
      this.#logger.error({ err: (error as Error).message }, 'admin sampler failed');
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      this.#json(res, 405, { error: 'METHOD_NOT_ALLOWED' });
      return;
    }
    switch (path) {
      case '/healthz':
        this.#json(res, 200, { status: 'ok' });
        return;
      case '/readyz': {
        // A fleet member whose trust is stale refuses new sessions, so it is not ready; the reason is a
        // fixed word (the probe is unauthenticated: no Redis error text here). A corrupt file store is
        // shown (and alerted on through inteli_trust_store_healthy), not turned into 503: the data plane
        // and the loaded keys still work, and one bad hand edit copied to every replica must not take the
        // whole fleet out of its load balancer.
        const stale = trustStaleness(this.#host.trustStore) !== undefined;
        const ready = this.#host.ready && !stale;
        // Only `ok` is shown: the reason names files or Redis errors, which belong to the log and the
        // authenticated status API, not to an unauthenticated probe.
        const trustOk = this.#host.trustStore?.health().ok;
        this.#json(res, ready ? 200 : 503, { ready, ...(stale ? { reason: 'trust_stale' } : {}), ...(trustOk === undefined ? {} : { trustStore: { ok: trustOk } }) });
        return;
      }
      default:
    }
    if (!this.#auth.required && !this.#hosts.allows(req.headers.host)) {
      this.#host.metrics.adminAuthFailed('host');
      this.#events.add({ type: 'admin_auth_failure', reason: 'host', detail: `${path}: Host is not a loopback or allowed name` });
      this.#json(res, 421, { error: 'MISDIRECTED_REQUEST', message: 'the Host header must be a loopback name or one of admin.allowedHosts' });
      return;
    }
    switch (path) {
      case '/':
      case '/index.html':
        res.setHeader('content-security-policy', STATUS_PAGE_CSP);
        res.setHeader('x-frame-options', 'DENY');
        this.#send(res, 200, 'text/html; charset=utf-8', STATUS_PAGE_HTML);
        return;
      case '/metrics':
      case '/api/status':
        break;
      default:
        this.#json(res, 404, { error: 'NOT_FOUND' });
        return;
    }
    // A request that came through a proxy (ours adds Via, Forwarded and X-Forwarded-For to every request
    // it forwards, and a client cannot make it drop them) is not a local caller, whatever its socket's
    // address: an agent that points a route at this port must not lend the data plane's clients the
    // loopback trust (issue 14). Such requests need a token like any remote one.
    const forwarded = req.headers.via !== undefined || req.headers.forwarded !== undefined || req.headers['x-forwarded-for'] !== undefined;
    const verdict = await this.#auth.check(req, this.#auth.required || forwarded);
    if (!verdict.ok) {
      this.#host.metrics.adminAuthFailed(verdict.reason);
      this.#events.add({ type: 'admin_auth_failure', reason: verdict.reason, detail: `${path}: ${verdict.message}` });
      if (verdict.status === 401) res.setHeader('www-authenticate', 'Bearer realm="inteli-proxy-admin"');
      this.#json(res, verdict.status, { error: verdict.status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', message: verdict.message });
      return;
    }
    if (path === '/metrics') {
      const { contentType, body } = await this.#host.metrics.exposition();
      this.#send(res, 200, contentType, body);
      return;
    }
    const report = buildStatusReport(this.#host, {
      events: this.#events.list(),
      samples: this.#rates.list(),
      intervalMs: this.#options.sampleIntervalMs,
      startedAt: this.#startedAt,
      authRequired: this.#auth.required,
      removedLimit: REMOVED_LIMIT,
      traffic: this.#traffic.summary(),
    });
    this.#json(res, 200, report);
  }

  #json(res: ServerResponse, status: number, value: unknown): void {
    this.#send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
  }

  #send(res: ServerResponse, status: number, contentType: string, body: string): void {
    const payload = Buffer.from(body, 'utf8');
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': contentType, 'content-length': String(payload.length) });
    res.end(res.req.method === 'HEAD' ? undefined : payload);
  }
}
