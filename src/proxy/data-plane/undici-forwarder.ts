/**
 * The forwarding adapter: the only file that imports undici. One keep-alive `Pool` per origin, shared by
 * every upstream with that origin; each request is dispatched with a handler object (no promise, no
 * intermediate stream), and bodies are streamed in both directions with backpressure: the request body is
 * the client's `IncomingMessage`, and a full client socket pauses the upstream response.
 *
 * The body timeout is the forwarder's own, not undici's (requests are dispatched with `bodyTimeout: 0`):
 * undici arms its timer before the response headers are known, and a `text/event-stream` answer must
 * have none (a quiet stream is not a failure), while other answers get the route's timeout or the
 * proxy's. Exchanges with a timeout are watched by one sweep timer (no timer per request); a paused
 * response (a slow client) is not timed. An answer is counted in the metrics when it ends: by status
 * class when complete, `aborted` when the client left, `cut` when the upstream side failed mid-body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import { ProxyError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { TargetAddress } from '../registry/backend.js';
import { sendError } from './error-response.js';
import { type RequestHead, type ResponseHeaders, rewriteResponseHeaders } from './forward-headers.js';
import type { Forwarder } from './forwarder.js';
import type { Route } from './route.js';
import { relayTrailers } from './trailers.js';
import { isConnectFailure, isResetBeforeResponse, statusError } from './status-error.js';
import type { Upstream } from './upstream.js';

/** Settings of {@link UndiciForwarder}, resolved by the data-plane options. */
export interface UndiciForwarderOptions {
  readonly connectTimeoutMs: number;
  /** Time to wait for response headers; exceeded -> 504. */
  readonly responseTimeoutMs: number;
  /** Longest silence between response body chunks; exceeded -> connection destroyed. */
  readonly bodyTimeoutMs: number;
  /** How long an idle pooled connection is kept open. */
  readonly keepAliveTimeoutMs: number;
  /** Most connections per origin. */
  readonly connectionsPerOrigin: number;
  /** Whether a connect failure on an idempotent request is retried once on another upstream. */
  readonly retry: boolean;
  /** Verify the certificates of `https` targets. */
  readonly upstreamRejectUnauthorized: boolean;
  /** Extra CA certificates (PEM) for `https` targets. */
  readonly upstreamCa: string | Buffer | undefined;
  readonly logger: Logger;
  /**
   * Where a request goes when its upstream answered with an interim 100 it did not ask for (undici's
   * client refuses those as a bad response): the Node-client path, which absorbs them. Used only while
   * the request body is untouched; default none (a 502).
   */
  readonly fallback?: Pick<Forwarder, 'forward'> | undefined;
}

/** undici's refusal of an interim 100 the request did not ask for (`client-h1.js`: "bad response"). */
function isUnaskedContinue(error: Error): boolean {
  return (error as { code?: unknown }).code === 'UND_ERR_SOCKET' && error.message === 'bad response';
}

/** The timeouts a reload may change. */
export type ForwarderTimeouts = Pick<UndiciForwarderOptions, 'connectTimeoutMs' | 'responseTimeoutMs' | 'bodyTimeoutMs'>;

/** Methods RFC 9110 calls idempotent and that are safe to send again after a connect failure. */
const RETRYABLE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

const kExchange = Symbol('exchange');
type TaggedResponse = ServerResponse & { [kExchange]?: Exchange };

/** Shortest and longest interval of the body-timeout sweep, in ms (a timeout fires up to 1/4 late, at most 1 s). */
const MIN_BODY_SWEEP_MS = 25;
const MAX_BODY_SWEEP_MS = 1000;

/** True for `text/event-stream` (any parameters, any case): server-sent events have no body timeout. */
function isEventStream(contentType: string | string[] | undefined): boolean {
  const value = Array.isArray(contentType) ? contentType[0] : contentType;
  // Most answers fail the length or the 6th character ('e' of "event") without building a string.
  if (value === undefined || value.length < 17 || (value.charCodeAt(5) | 0x20) !== 0x65) return false;
  return value.slice(0, 17).toLowerCase() === 'text/event-stream';
}

/** Shared listeners (no closure per request): `this` is the response. */
function onClientClose(this: TaggedResponse): void {
  this[kExchange]?.clientClosed();
}
function onClientDrain(this: TaggedResponse): void {
  this[kExchange]?.resumed();
}

interface PoolEntry {
  /** Created on the first request, not at registration: a pool costs about 18 KB of heap. */
  pool: Pool | undefined;
  readonly target: TargetAddress;
  references: number;
}

/** One request on its way through the proxy; also the undici dispatch handler. */
class Exchange implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | undefined;
  upstream: Upstream;
  readonly #forwarder: UndiciForwarder;
  readonly #req: IncomingMessage;
  /**
   * The client connection, kept because undici destroys a failed request's body (`req`), and a destroyed
   * `IncomingMessage` no longer references its socket although the client is still waiting.
   */
  readonly #socket: Socket;
  readonly #res: TaggedResponse;
  readonly #route: Route;
  readonly #target: string;
  readonly #head: RequestHead;
  readonly #setCookie: string | undefined;
  #requestSent = false;
  #responseStarted = false;
  #retried = false;
  #clientGone = false;
  #drainListening = false;
  #done = false;
  /** `performance.now()` when the request was dispatched to the current upstream (for the latency metric). */
  #sentAt = 0;
  /** The relayed status, counted when the answer ends. */
  #status = 0;
  /** Body timeout of this answer in ms, 0 when it has none (set with the response headers). */
  bodyTimeoutMs = 0;
  /** `performance.now()` of the last body chunk (or of the headers, or of the resume after a pause). */
  lastChunkAt = 0;
  /** True while the upstream response is paused because the client reads slowly (not timed then). */
  paused = false;

  constructor(forwarder: UndiciForwarder, req: IncomingMessage, res: ServerResponse, route: Route, upstream: Upstream, target: string, head: RequestHead, setCookie: string | undefined) {
    this.#forwarder = forwarder;
    this.#req = req;
    this.#socket = req.socket;
    this.#res = res;
    this.#route = route;
    this.upstream = upstream;
    this.#target = target;
    this.#head = head;
    this.#setCookie = setCookie;
    this.#res[kExchange] = this;
    // `on`, not `once`: a response closes once, and `once` would allocate a wrapper per request.
    res.on('close', onClientClose);
  }

  /** Dispatches the request to `upstream`. */
  send(upstream: Upstream): void {
    this.upstream = upstream;
    this.controller = undefined;
    this.#requestSent = false;
    this.#sentAt = performance.now();
    upstream.acquire();
    const pool = this.#forwarder.poolOf(upstream.origin);
    if (pool === undefined) {
      this.onResponseError(undefined, new ProxyError('RP_ERR_UPSTREAM_CONNECT', `no connection pool for ${upstream.origin}`));
      return;
    }
    const req = this.#req;
    try {
      pool.dispatch(
        {
          path: this.#target,
          method: req.method ?? 'GET',
          headers: this.#head.headers,
          body: this.#head.hasBody ? req : null,
          // Per dispatch, not per pool, so that a reload applies to new requests only.
          headersTimeout: this.#forwarder.timeouts.responseTimeoutMs,
          // The body timeout is the forwarder's sweep (read per answer, so a reload applies to new answers).
          bodyTimeout: 0,
        },
        this,
      );
    } catch (error) {
      // undici validates headers synchronously; a value it refuses is the client's fault (400).
      this.onResponseError(undefined, error as Error);
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.#requestSent = true;
    if (this.#clientGone) controller.abort(clientAborted());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    // 1xx informational answers are not relayed: Node's server answers Expect itself.
    if (statusCode < 200 || this.#clientGone) return;
    this.#responseStarted = true;
    this.#status = statusCode;
    this.upstream.succeeded();
    // A 5xx is the backend's own failure: reachable (no ejection), but the status page shows it as the
    // target's last error, with its time.
    if (statusCode >= 500) this.upstream.failed(`HTTP ${statusCode} from the backend`);
    const now = performance.now();
    this.upstream.routeStats.get(this.#route.key)?.observeLatency((now - this.#sentAt) / 1000);
    const timeout = isEventStream(headers['content-type']) ? 0 : (this.#route.bodyTimeoutMs ?? this.#forwarder.bodyTimeoutMs);
    if (timeout > 0 && this.#req.method !== 'HEAD' && statusCode !== 204 && statusCode !== 304) {
      this.bodyTimeoutMs = timeout;
      this.lastChunkAt = now;
      this.#forwarder.watch(this);
    }
    const res = this.#res;
    if (this.#forwarder.stopping) res.shouldKeepAlive = false;
    try {
      const relayed = rewriteResponseHeaders(headers, this.#head.requestId);
      if (this.#setCookie !== undefined) relayed.push('set-cookie', this.#setCookie);
      if (statusMessage) res.writeHead(statusCode, statusMessage, relayed);
      else res.writeHead(statusCode, relayed);
    } catch (error) {
      controller.abort(new ProxyError('RP_ERR_UPSTREAM_RESPONSE', `the upstream sent headers the proxy cannot relay: ${(error as Error).message}`));
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#clientGone) return;
    if (this.bodyTimeoutMs !== 0) this.lastChunkAt = performance.now();
    if (!this.#res.write(chunk)) {
      controller.pause();
      this.paused = true;
      if (!this.#drainListening) {
        this.#drainListening = true;
        this.#res.on('drain', onClientDrain);
      }
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: ResponseHeaders): void {
    if (this.#clientGone) {
      this.upstream.routeStats.get(this.#route.key)?.answered(0);
    } else {
      relayTrailers(this.#res, trailers);
      this.#res.end();
      this.upstream.routeStats.get(this.#route.key)?.answered(this.#status);
    }
    this.#finish();
  }

  /** The client drained its buffer: the upstream response resumes, and its silence is timed again. */
  resumed(): void {
    if (!this.paused) return;
    this.paused = false;
    this.lastChunkAt = performance.now();
    this.controller?.resume();
  }

  /** Called by the sweep when the upstream was silent for longer than the body timeout. */
  bodyTimedOut(): void {
    this.#forwarder.unwatch(this);
    const error = new ProxyError('RP_ERR_UPSTREAM_TIMEOUT', `the upstream sent no body chunk within ${this.bodyTimeoutMs} ms`);
    if (this.controller !== undefined) this.controller.abort(error);
    else this.onResponseError(undefined, error);
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    if (this.#done) return;
    try {
      this.#fail(error);
    } catch (unexpected) {
      // Nothing may escape into undici's socket callbacks: that would be an uncaught exception.
      this.#forwarder.logger.error({ err: (unexpected as Error).message, requestId: this.#head.requestId }, 'error handling failed');
      this.#res.destroy();
      this.#finish();
    }
  }

  #fail(error: Error): void {
    const upstream = this.upstream;
    if (!this.#responseStarted && !this.#clientGone && isUnaskedContinue(error)) {
      upstream.interimResponses = true;
      const fallback = this.#forwarder.fallback;
      if (fallback !== undefined && (!this.#head.hasBody || !this.#req.readableDidRead)) {
        this.#forwarder.logger.debug({ upstream: upstream.origin, requestId: this.#head.requestId }, 'the upstream sent an unasked 100: resending on the Node client');
        this.#done = true;
        if (this.bodyTimeoutMs !== 0) this.#forwarder.unwatch(this);
        upstream.release();
        fallback.forward(this.#req, this.#res, this.#route, upstream, this.#target, this.#head, this.#setCookie);
        return;
      }
    }
    const failure = statusError(error, this.#requestSent);
    const logger = this.#forwarder.logger;
    // A client that vanished mid-upload surfaces as a body error (ECONNRESET); never blame the upstream.
    if (this.#clientGone || failure.code === 'RP_ERR_CLIENT_ABORTED' || this.#socket.destroyed) {
      logger.debug({ code: 'RP_ERR_CLIENT_ABORTED', status: 499, upstream: upstream.origin, requestId: this.#head.requestId }, 'client aborted');
      upstream.routeStats.get(this.#route.key)?.answered(0);
      this.#finish();
      return;
    }
    const connectFailure = isConnectFailure(failure, this.#requestSent);
    if (connectFailure) upstream.connectFailed(failure.message);
    else if (failure.code !== 'RP_ERR_BAD_REQUEST') upstream.failed(failure.message);
    // A connection reset before any response byte is retried like a connect failure (idempotent methods
    // only, once): a backend that was just killed must not fail requests beyond those it was serving.
    if ((connectFailure || isResetBeforeResponse(error, this.#responseStarted)) && this.#canRetry()) {
      const next = this.#route.selector.select(upstream);
      if (next !== undefined) {
        logger.debug({ code: failure.code, upstream: upstream.origin, retry: next.origin, requestId: this.#head.requestId }, 'retrying on another upstream');
        this.#retried = true;
        const stats = upstream.routeStats.get(this.#route.key);
        if (stats !== undefined) stats.retries += 1;
        upstream.release();
        this.send(next);
        return;
      }
    }
    logger.warn({ code: failure.code, status: this.#responseStarted ? 'cut' : failure.statusCode, upstream: upstream.origin, requestId: this.#head.requestId, err: failure.message }, 'forwarding failed');
    if (!this.#responseStarted) upstream.routeStats.get(this.#route.key)?.answered(failure.statusCode ?? 502);
    else upstream.routeStats.get(this.#route.key)?.cut();
    // After the response has started, sendError destroys the client connection: never a clean short answer.
    sendError(this.#res, failure.statusCode ?? 502, failure.code, this.#head.requestId);
    this.#finish();
  }

  /** Only once, only idempotent methods, and only while the request body has not been touched. */
  #canRetry(): boolean {
    return (
      !this.#retried &&
      !this.#responseStarted &&
      this.#forwarder.retry &&
      RETRYABLE_METHODS.has(this.#req.method ?? '') &&
      (!this.#head.hasBody || !this.#req.readableDidRead)
    );
  }

  /** The client connection closed; aborts the upstream request unless the response was complete. */
  clientClosed(): void {
    if (this.#done || this.#res.writableFinished) return;
    this.#clientGone = true;
    // Before onRequestStart the request is still queued; it is aborted as soon as it starts.
    this.controller?.abort(clientAborted());
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.bodyTimeoutMs !== 0) this.#forwarder.unwatch(this);
    this.upstream.release();
  }
}

/** A pool already closing: destroying it waits for its sockets (and is a no-op once they are gone). */
function waitDestroyed(pool: Pool): Promise<void> {
  return pool.destroyed ? Promise.resolve() : pool.close().catch(() => undefined);
}

function clientAborted(): ProxyError {
  return new ProxyError('RP_ERR_CLIENT_ABORTED', 'the client went away before the response was complete');
}

/** {@link Forwarder} on undici pools. */
export class UndiciForwarder implements Forwarder {
  /** Set when the data plane stops: responses then close their connection. */
  stopping = false;
  readonly logger: Logger;
  readonly retry: boolean;
  /** See {@link UndiciForwarderOptions.fallback}. */
  readonly fallback: Pick<Forwarder, 'forward'> | undefined;
  #options: UndiciForwarderOptions;
  /** Answers whose body silence is timed. */
  readonly #watched = new Set<Exchange>();
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweepMs = MAX_BODY_SWEEP_MS;
  readonly #sweep = (): void => {
    const now = performance.now();
    for (const exchange of this.#watched) {
      if (!exchange.paused && now - exchange.lastChunkAt > exchange.bodyTimeoutMs) exchange.bodyTimedOut();
    }
  };
  readonly #pools = new Map<string, PoolEntry>();
  /** Pools released while requests still ran on them; kept so that `destroy()` reaches them. */
  readonly #closing = new Set<Pool>();

  constructor(options: UndiciForwarderOptions) {
    this.#options = options;
    this.logger = options.logger;
    this.retry = options.retry;
    this.fallback = options.fallback;
  }

  /** The proxy-wide body timeout in ms (0: none) that new answers get. */
  get bodyTimeoutMs(): number {
    return this.#options.bodyTimeoutMs;
  }

  /** The upstream timeouts new requests get. */
  get timeouts(): ForwarderTimeouts {
    return this.#options;
  }

  /**
   * Applies new timeouts to new requests; requests in flight keep theirs. A new connect timeout takes
   * effect through new pools: the current ones close gracefully (their requests finish) and each origin
   * gets a new pool on its next request.
   */
  setTimeouts(timeouts: ForwarderTimeouts): void {
    const connectChanged = timeouts.connectTimeoutMs !== this.#options.connectTimeoutMs;
    this.#options = { ...this.#options, connectTimeoutMs: timeouts.connectTimeoutMs, responseTimeoutMs: timeouts.responseTimeoutMs, bodyTimeoutMs: timeouts.bodyTimeoutMs };
    if (!connectChanged) return;
    for (const [origin, entry] of this.#pools) {
      const pool = entry.pool;
      if (pool === undefined) continue;
      entry.pool = undefined;
      this.#closeGracefully(origin, pool);
    }
  }

  /** Times an answer's body silence (one sweep timer for all, a quarter of the shortest timeout). */
  watch(exchange: Exchange): void {
    this.#watched.add(exchange);
    const wanted = Math.min(MAX_BODY_SWEEP_MS, Math.max(MIN_BODY_SWEEP_MS, Math.floor(exchange.bodyTimeoutMs / 4)));
    if (this.#sweepTimer !== undefined && wanted >= this.#sweepMs) return;
    clearInterval(this.#sweepTimer);
    this.#sweepMs = wanted;
    this.#sweepTimer = setInterval(this.#sweep, wanted);
    this.#sweepTimer.unref();
  }

  /**
   * Stops timing an answer. The sweep timer keeps running (unref'd) until `close()`/`destroy()`: creating
   * and clearing a timer per answer would cost more than an idle sweep.
   */
  unwatch(exchange: Exchange): void {
    this.#watched.delete(exchange);
  }

  forward(req: IncomingMessage, res: ServerResponse, route: Route, upstream: Upstream, target: string, head: RequestHead, setCookie?: string): void {
    new Exchange(this, req, res, route, upstream, target, head, setCookie).send(upstream);
  }

  /**
   * The pool of a retained origin, created on its first request. Creating pools lazily keeps 10,000
   * registered targets from costing 200 MB of heap (and the GC time that goes with it) before any of
   * them is used.
   */
  poolOf(origin: string): Pool | undefined {
    const entry = this.#pools.get(origin);
    if (entry === undefined) return undefined;
    entry.pool ??= this.#createPool(origin, entry.target);
    return entry.pool;
  }

  retain(origin: string, target: TargetAddress): void {
    const entry = this.#pools.get(origin);
    if (entry !== undefined) {
      entry.references += 1;
      return;
    }
    this.#pools.set(origin, { pool: undefined, target, references: 1 });
  }

  #createPool(origin: string, target: TargetAddress): Pool {
    const options = this.#options;
    return new Pool(origin, {
      connections: options.connectionsPerOrigin,
      pipelining: 1,
      connectTimeout: options.connectTimeoutMs,
      headersTimeout: options.responseTimeoutMs,
      bodyTimeout: 0,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      connect: target.protocol === 'https'
        ? { rejectUnauthorized: options.upstreamRejectUnauthorized, ...(options.upstreamCa === undefined ? {} : { ca: options.upstreamCa }) }
        : {},
    });
  }

  release(origin: string): void {
    const entry = this.#pools.get(origin);
    if (entry === undefined) return;
    entry.references -= 1;
    if (entry.references > 0) return;
    this.#pools.delete(origin);
    const pool = entry.pool;
    if (pool === undefined) return;
    this.#closeGracefully(origin, pool);
  }

  #closeGracefully(origin: string, pool: Pool): void {
    this.#closing.add(pool);
    pool
      .close()
      .catch((error: unknown) => this.logger.debug({ origin, err: String(error) }, 'pool close failed'))
      .finally(() => this.#closing.delete(pool));
  }

  async close(): Promise<void> {
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    const pools = this.#createdPools();
    this.#pools.clear();
    for (const pool of pools) this.#closing.add(pool);
    await Promise.allSettled([...this.#closing].map((pool) => (pool.closed ? waitDestroyed(pool) : pool.close())));
  }

  async destroy(): Promise<void> {
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#watched.clear();
    const pools = this.#createdPools();
    this.#pools.clear();
    await Promise.allSettled([...pools, ...this.#closing].map((pool) => pool.destroy()));
    this.#closing.clear();
  }

  #createdPools(): Pool[] {
    const pools: Pool[] = [];
    for (const entry of this.#pools.values()) if (entry.pool !== undefined) pools.push(entry.pool);
    return pools;
  }
}
