/**
 * The data plane: the HTTP listener (and an HTTPS one when a certificate is given), the routing state
 * derived from the registry, the forwarder and the tunnels, with an explicit lifecycle
 * (`idle` -> `starting` -> `running` -> `stopping` -> `stopped`). `start()` and `stop()` are idempotent:
 * a second call returns the same promise.
 *
 * Graceful stop (fastify's order): stop accepting, close idle keep-alive connections at once, answer new
 * requests on kept-alive connections with 503 and `Connection: close`, let in-flight requests and tunnels
 * finish within `shutdownTimeoutMs`, then destroy what is left and close the connection pools.
 */
import { EventEmitter } from 'node:events';
import { type IncomingMessage, type Server as HttpServer, type ServerOptions, type ServerResponse, createServer as createHttpServer } from 'node:http';
import { type Server as HttpsServer, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { NotRunningError, TlsError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { BackendRegistry } from '../registry/backend-registry.js';
import type { ResolvedDataPlaneOptions } from './data-plane-options.js';
import { ListenerProtocolStats, type SecureListener, createSecureListener } from './h2-listener.js';
import { closeServer, listen } from './listen.js';
import { MAX_REQUEST_HEADERS, ProxyHandler } from './proxy-handler.js';
import { type RouteSnapshot, RoutingState } from './routing-state.js';
import { TrafficStats } from './traffic-stats.js';
import { UndiciForwarder } from './undici-forwarder.js';
import { NodeHttpForwarder } from './node-http-forwarder.js';
import type { Upstream } from './upstream.js';
import { WebSocketTunnels } from './websocket-tunnel.js';
import type { Forwarding } from '../forwarding.js';
import { type LiveDataPlaneOptions, withLiveOptions } from './live-options.js';

/** Lifecycle states of a {@link DataPlane}. */
export type DataPlaneState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Bound addresses, known after `start()`. */
export interface DataPlaneAddresses {
  readonly http?: AddressInfo | undefined;
  readonly https?: AddressInfo | undefined;
}

/** A read-only view of the data plane for status pages and tests. */
export interface DataPlaneSnapshot {
  readonly state: DataPlaneState;
  /** Requests and tunnels in flight on the whole data plane. */
  readonly inFlight: number;
  /** Open tunnels (WebSocket and other upgrades). */
  readonly tunnels: number;
  readonly routes: readonly RouteSnapshot[];
}

/** Events of a {@link DataPlane}. */
export interface DataPlaneEvents {
  /** A listener failed after start (for example out of file descriptors). Logged when nobody listens. */
  error: [error: Error];
}

/**
 * What the certificate manager (ACME) plugs into the listeners: the HTTPS listener's `SNICallback`, and a
 * handler the HTTP listener calls before routing (HTTP-01 challenges). It returns true when it took the
 * request; `next` routes a request it looked at but does not answer.
 */
export interface DataPlaneTlsHooks {
  readonly sniCallback?: ((servername: string, callback: (error: Error | null, context?: SecureContext) => void) => void) | undefined;
  readonly handleHttp?: ((req: IncomingMessage, res: ServerResponse, next: () => void) => boolean) | undefined;
}

/** How often idle connections are closed while a stop waits for in-flight work, in milliseconds. */
const STOP_SWEEP_INTERVAL_MS = 25;
/** Longest interval between sweeps for clients past their headers or request deadline, in ms. */
const MAX_CLIENT_DEADLINE_SWEEP_MS = 1000;
/** Shortest such interval, in ms (tests use deadlines of a few hundred ms). */
const MIN_CLIENT_DEADLINE_SWEEP_MS = 50;

/** The forwarding half of the proxy, in this process (the {@link Forwarding} of a `ProxyServer`). */
export class DataPlane extends EventEmitter<DataPlaneEvents> implements Forwarding {
  readonly #registry: BackendRegistry;
  #options: ResolvedDataPlaneOptions;
  readonly #logger: Logger;
  readonly #forwarder: UndiciForwarder;
  readonly #http1: NodeHttpForwarder;
  readonly #tunnels: WebSocketTunnels;
  readonly #routing: RoutingState;
  readonly #handler: ProxyHandler;
  readonly #stats = new TrafficStats();
  /** Open client connections, for the byte counters (tracked per connection, never per request). */
  readonly #connections = new Set<Socket>();
  readonly #tlsHooks: DataPlaneTlsHooks;
  #state: DataPlaneState = 'idle';
  #servers: (HttpServer | HttpsServer | SecureListener)[] = [];
  readonly #protocolStats = new ListenerProtocolStats();
  readonly #countHttp1 = (): void => {
    this.#protocolStats.requests['http/1.1'] += 1;
  };
  #addresses: DataPlaneAddresses = {};
  #startPromise: Promise<DataPlaneAddresses> | undefined;
  #stopPromise: Promise<void> | undefined;
  #rebuildPending = false;
  /**
   * Registry changes are coalesced into one rebuild per event-loop turn (setImmediate): a storm of
   * registrations, each arriving in its own I/O callback, costs one rebuild per turn, not one per
   * registration. A request never sees a stale table: the routing state runs the deferred rebuild at
   * its first lookup (`RoutingState.defer`).
   */
  readonly #onChange = (): void => {
    if (this.#rebuildPending) return;
    this.#rebuildPending = true;
    this.#routing.defer(this.#rebuild);
    setImmediate(this.#rebuild);
  };
  readonly #rebuild = (): void => {
    if (!this.#rebuildPending) return;
    this.#rebuildPending = false;
    try {
      this.#routing.rebuild(this.#registry.list(), this.#registry.reserved);
    } catch (error) {
      // A rebuild never throws by design; if it did, keep serving the previous table.
      this.#logger.error({ err: (error as Error).message }, 'route rebuild failed; keeping the previous table');
    }
  };
  readonly #onConnection = (socket: Socket): void => {
    this.#connections.add(socket);
    socket.once('close', () => {
      this.#connections.delete(socket);
      this.#stats.closedBytesIn += socket.bytesRead;
      this.#stats.closedBytesOut += socket.bytesWritten;
    });
  };
  readonly #onServerError = (error: Error): void => {
    this.#logger.error({ err: error.message }, 'listener error');
    if (this.listenerCount('error') > 0) this.emit('error', error);
  };

  /**
   * @param options resolved with `resolveDataPlaneOptions`.
   * @param tlsHooks certificate selection and HTTP-01 answers, when ACME is enabled.
   */
  constructor(registry: BackendRegistry, options: ResolvedDataPlaneOptions, tlsHooks: DataPlaneTlsHooks = {}) {
    super();
    this.#registry = registry;
    this.#tlsHooks = tlsHooks;
    this.#options = options;
    this.#logger = options.logger.child({ component: 'data-plane' });
    const upstreamTls = { upstreamRejectUnauthorized: options.upstreamRejectUnauthorized, upstreamCa: options.upstreamCa };
    this.#http1 = new NodeHttpForwarder({
      connectTimeoutMs: options.connectTimeoutMs,
      responseTimeoutMs: options.responseTimeoutMs,
      bodyTimeoutMs: options.bodyTimeoutMs,
      ...upstreamTls,
      logger: this.#logger.child({ component: 'forwarder-http1' }),
    });
    this.#forwarder = new UndiciForwarder({
      fallback: this.#http1,
      connectTimeoutMs: options.connectTimeoutMs,
      responseTimeoutMs: options.responseTimeoutMs,
      bodyTimeoutMs: options.bodyTimeoutMs,
      keepAliveTimeoutMs: options.upstreamKeepAliveTimeoutMs,
      connectionsPerOrigin: options.connectionsPerOrigin,
      retry: options.retry,
      ...upstreamTls,
      // Children of the root, not of the data plane's logger: pino would write both `component` bindings.
      logger: options.logger.child({ component: 'forwarder' }),
    });
    this.#tunnels = new WebSocketTunnels({
      connectTimeoutMs: options.connectTimeoutMs,
      responseTimeoutMs: options.responseTimeoutMs,
      maxPerTarget: options.maxTunnelsPerTarget,
      onLimit: () => {
        this.#stats.tunnelLimit += 1;
      },
      ...upstreamTls,
      logger: options.logger.child({ component: 'tunnel' }),
    });
    const ejection = {
      failures: options.ejectAfterFailures,
      durationMs: options.ejectDurationMs,
      onEjected: (upstream: Upstream) => this.#stats.ejected(upstream.backend.agentId),
    };
    this.#routing = new RoutingState(options.selector, ejection, this.#forwarder, this.#stats, options);
    this.#handler = new ProxyHandler(this.#routing, this.#forwarder, this.#tunnels, options, this.#logger, this.#http1);
  }

  /** Current lifecycle state. */
  get state(): DataPlaneState {
    return this.#state;
  }

  /** Bound addresses; empty before `start()` resolves. */
  get addresses(): DataPlaneAddresses {
    return this.#addresses;
  }

  /**
   * Binds the listeners and starts routing from the registry.
   *
   * @throws {ListenError} (`RP_ERR_LISTEN`) when a port cannot be bound; the message names host:port.
   * @throws {TlsError} (`RP_ERR_TLS`) when the certificate or key cannot be used.
   * @throws {NotRunningError} when called after `stop()`.
   */
  start(): Promise<DataPlaneAddresses> {
    if (this.#startPromise !== undefined) return this.#startPromise;
    if (this.#state !== 'idle') return Promise.reject(new NotRunningError('the data plane was stopped and cannot start again'));
    this.#state = 'starting';
    this.#startPromise = this.#start().catch(async (error: unknown) => {
      this.#registry.off('change', this.#onChange);
      this.#rebuildPending = false;
      await Promise.all(this.#servers.map(closeServer));
      this.#servers = [];
      this.#routing.clear();
      await this.#forwarder.destroy();
      this.#state = 'stopped';
      throw error;
    });
    return this.#startPromise;
  }

  /** Gracefully stops; resolves when every socket and pool is closed. Safe to call in any state. */
  stop(): Promise<void> {
    this.#stopPromise ??= this.#stop();
    return this.#stopPromise;
  }

  /** The resolved options, as last reconfigured. */
  get options(): ResolvedDataPlaneOptions {
    return this.#options;
  }

  /**
   * Applies new values of the live options (see `live-options.ts`) to new requests; requests and tunnels
   * in flight keep what they were dispatched with. Validated first: an invalid value throws and nothing
   * changes.
   *
   * @throws {InvalidOptionError} naming the option.
   */
  async reconfigure(change: LiveDataPlaneOptions): Promise<void> {
    const next = withLiveOptions(this.#options, change);
    this.#options = next;
    this.#handler.options = next;
    this.#forwarder.setTimeouts(next);
    this.#http1.setTimeouts(next);
    this.#tunnels.setTimeouts(next);
    this.#routing.setSelector(next.selector);
    this.#logger.info({ options: Object.keys(change).filter((name) => change[name as keyof LiveDataPlaneOptions] !== undefined) }, 'data plane reconfigured');
  }

  /** Resolves once the backend has no request or tunnel in flight (at once if it has none). */
  whenIdle(backendId: string): Promise<void> {
    return this.#routing.whenIdle(backendId);
  }

  /** Requests and tunnels in flight on one backend, or on the whole data plane without an id. */
  inFlight(backendId?: string): number {
    return backendId === undefined ? this.#routing.load.inFlight : this.#routing.inFlight(backendId);
  }

  /** Traffic counters (plain integers; read at scrape time by the admin metrics). */
  get stats(): TrafficStats {
    return this.#stats;
  }

  /** Requests by downstream protocol and HTTP/2 session counters (read at scrape time). */
  get protocolStats(): ListenerProtocolStats {
    return this.#protocolStats;
  }

  /** Bytes read from and written to clients so far, over closed and open connections (TCP payload). */
  clientBytes(): { readonly bytesIn: number; readonly bytesOut: number } {
    let bytesIn = this.#stats.closedBytesIn;
    let bytesOut = this.#stats.closedBytesOut;
    for (const socket of this.#connections) {
      bytesIn += socket.bytesRead;
      bytesOut += socket.bytesWritten;
    }
    return { bytesIn, bytesOut };
  }

  /** A plain copy of the routes, upstreams and counters. */
  snapshot(): DataPlaneSnapshot {
    this.#rebuild();
    return { state: this.#state, inFlight: this.#routing.load.inFlight, tunnels: this.#tunnels.size, routes: this.#routing.snapshot() };
  }

  async #start(): Promise<DataPlaneAddresses> {
    const options = this.#options;
    const serverOptions: ServerOptions = {
      requestTimeout: options.clientRequestTimeoutMs,
      headersTimeout: options.clientHeadersTimeoutMs,
      keepAliveTimeout: options.clientKeepAliveTimeoutMs,
      maxHeaderSize: options.maxHeaderSize,
      // The handler answers a missing Host itself so it can also refuse what was pipelined behind it.
      requireHostHeader: false,
      // Node enforces the two client deadlines only when it sweeps its connections, every 30 s by default:
      // a slowloris client would hold its socket up to 30 s past `clientHeadersTimeoutMs`. Sweep at a
      // quarter of the headers deadline, at most once a second, so a slow client is cut within its
      // deadline plus at most 1 s.
      connectionsCheckingInterval: Math.min(MAX_CLIENT_DEADLINE_SWEEP_MS, Math.max(MIN_CLIENT_DEADLINE_SWEEP_MS, Math.floor(options.clientHeadersTimeoutMs / 4))),
      noDelay: true,
    };
    let httpsServer: HttpsServer | SecureListener | undefined;
    if (options.tls !== undefined) {
      try {
        // Node bounds the TLS handshake at 120 s by default, and the client deadlines start only once it
        // is done: a peer that never finishes the handshake would hold its socket that long.
        const sni = this.#tlsHooks.sniCallback === undefined ? {} : { SNICallback: this.#tlsHooks.sniCallback };
        httpsServer = options.http2
          ? createSecureListener(options, this.#tlsHooks, this.#handler, this.#protocolStats, this.#logger)
          : createHttpsServer({ ...serverOptions, handshakeTimeout: options.clientHeadersTimeoutMs, cert: options.tls.cert, key: options.tls.key, ...sni });
      } catch (error) {
        throw new TlsError(`the HTTPS certificate or key cannot be used: ${(error as Error).message}`, { cause: error });
      }
    }
    this.#registry.on('change', this.#onChange);
    this.#rebuildPending = true;
    this.#rebuild();
    const httpServer = createHttpServer(serverOptions);
    httpServer.keepAliveTimeout = options.clientKeepAliveTimeoutMs;
    // One more than the handler accepts, so a longer header list is detected instead of silently cut.
    httpServer.maxHeadersCount = MAX_REQUEST_HEADERS + 1;
    httpServer.on('connection', this.#onConnection);
    const handleHttp = this.#tlsHooks.handleHttp;
    const onHttpRequest = this.#handler.onHttpRequest;
    const onHttp =
      handleHttp === undefined ? onHttpRequest : (req: IncomingMessage, res: ServerResponse) => {
        if (!handleHttp(req, res, () => onHttpRequest(req, res))) onHttpRequest(req, res);
      };
    httpServer.on('request', this.#countHttp1);
    httpServer.on('request', onHttp);
    // With a listener, Node sends no 100 itself: the upstream's 100 (or its refusal) is relayed instead.
    httpServer.on('checkContinue', this.#countHttp1);
    httpServer.on('checkContinue', onHttp);
    httpServer.on('upgrade', this.#handler.onHttpUpgrade);
    httpServer.on('connect', this.#handler.onConnect);
    this.#servers.push(httpServer);
    const http = await listen(httpServer, options.port, options.host, 'HTTP');
    httpServer.on('error', this.#onServerError);
    let https: AddressInfo | undefined;
    if (httpsServer !== undefined) {
      httpsServer.on('connection', this.#onConnection);
      // The HTTP/2 listener attaches the handler itself (through its HTTP/2 adapters).
      if (!options.http2) {
        const plain = httpsServer as HttpsServer;
        plain.keepAliveTimeout = options.clientKeepAliveTimeoutMs;
        plain.maxHeadersCount = MAX_REQUEST_HEADERS + 1;
        plain.on('request', this.#countHttp1);
        plain.on('request', this.#handler.onHttpsRequest);
        plain.on('checkContinue', this.#countHttp1);
        plain.on('checkContinue', this.#handler.onHttpsRequest);
        plain.on('upgrade', this.#handler.onHttpsUpgrade);
        plain.on('connect', this.#handler.onConnect);
      }
      this.#servers.push(httpsServer);
      https = await listen(httpsServer, options.tlsPort, options.host, 'HTTPS');
      httpsServer.on('error', this.#onServerError);
    }
    this.#addresses = Object.freeze({ http, https });
    this.#state = 'running';
    this.#logger.info({ http: `${http.address}:${http.port}`, https: https === undefined ? undefined : `${https.address}:${https.port}` }, 'data plane listening');
    return this.#addresses;
  }

  async #stop(): Promise<void> {
    if (this.#startPromise !== undefined) await this.#startPromise.catch(() => undefined);
    if (this.#state !== 'running') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    this.#handler.stopping = true;
    this.#forwarder.stopping = true;
    this.#http1.stopping = true;
    this.#registry.off('change', this.#onChange);
    this.#rebuild();
    const servers = this.#servers;
    const closed = Promise.all(servers.map(closeServer));
    const sweep = (): void => {
      for (const server of servers) server.closeIdleConnections();
    };
    sweep();
    // Connections whose response ends during the stop become idle later; sweep them as they do.
    const sweeper = setInterval(sweep, STOP_SWEEP_INTERVAL_MS);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.#options.shutdownTimeoutMs);
    });
    const expired = await Promise.race([Promise.all([closed, this.#routing.load.whenIdle()]).then(() => false), timedOut]);
    clearInterval(sweeper);
    clearTimeout(timer);
    if (expired) {
      this.#logger.warn({ inFlight: this.#routing.load.inFlight, tunnels: this.#tunnels.size }, 'shutdown timeout: destroying remaining connections');
      for (const server of servers) server.closeAllConnections();
      this.#tunnels.destroyAll();
      this.#http1.destroy();
      await this.#forwarder.destroy();
    }
    this.#routing.clear();
    await this.#forwarder.close();
    await closed;
    this.#servers = [];
    this.#state = 'stopped';
    this.#logger.info('data plane stopped');
  }
}
