/**
 * The second forwarding path, on Node's own HTTP/1.1 client, for the two things undici's HTTP/1.1 client
 * cannot do: `Expect: 100-continue` end to end (undici refuses an `Expect` header and takes a 100 it did
 * not ask for as a bad response) and request trailers (undici ends a chunked body without them). Only
 * requests that carry `Expect: 100-continue` or announce trailers (`Trailer`) take it; everything else
 * stays on the undici adapter.
 *
 * For `Expect: 100-continue` the upstream decides: the request headers go out with the `Expect`, and the
 * client's body is read only once the upstream answered 100, which is relayed to the client first (Node's
 * server hands these requests over through `checkContinue` and sends no 100 itself). If the upstream
 * answers a final status instead (413, 417, 401), that answer reaches the client before any body byte
 * was sent, and the client connection is closed after it (the unread body must not be parsed as the next
 * request). A 100 the upstream sends unasked is absorbed. Each request uses its own upstream connection:
 * these are uploads, rare next to the rest, and a fresh connection keeps the 100-continue exchange simple.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Logger } from '../../shared/logger.js';
import { sendError } from './error-response.js';
import { type RequestHead, rewriteResponseHeaders } from './forward-headers.js';
import type { Route } from './route.js';
import { statusError } from './status-error.js';
import { relayTrailers } from './trailers.js';
import type { Upstream } from './upstream.js';

/** Settings of {@link NodeHttpForwarder}. */
export interface NodeHttpForwarderOptions {
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly upstreamRejectUnauthorized: boolean;
  readonly upstreamCa: string | Buffer | undefined;
  readonly logger: Logger;
}

/** True for `text/event-stream`: server-sent events have no body timeout. */
function isEventStream(value: string | undefined): boolean {
  return value !== undefined && value.slice(0, 17).toLowerCase() === 'text/event-stream';
}

/** Forwards `Expect: 100-continue` and trailer-carrying requests over Node's HTTP client. */
export class NodeHttpForwarder {
  /** Set when the data plane stops: responses then close their connection. */
  stopping = false;
  #options: NodeHttpForwarderOptions;
  readonly #open = new Set<http.ClientRequest>();

  constructor(options: NodeHttpForwarderOptions) {
    this.#options = options;
  }

  /** Applies new upstream timeouts to new requests (a reload); requests in flight keep theirs. */
  setTimeouts(timeouts: Pick<NodeHttpForwarderOptions, 'connectTimeoutMs' | 'responseTimeoutMs' | 'bodyTimeoutMs'>): void {
    this.#options = { ...this.#options, connectTimeoutMs: timeouts.connectTimeoutMs, responseTimeoutMs: timeouts.responseTimeoutMs, bodyTimeoutMs: timeouts.bodyTimeoutMs };
  }

  /** Forwards one request; never throws (failures are answered or end the client connection). */
  forward(req: IncomingMessage, res: ServerResponse, route: Route, upstream: Upstream, target: string, head: RequestHead, setCookie?: string): void {
    const options = this.#options;
    const logger = options.logger;
    const stats = upstream.routeStats.get(route.key);
    const started = performance.now();
    const expectContinue = head.expectContinue && head.hasBody;
    const headers = [...head.headers];
    if (expectContinue) headers.push('expect', '100-continue');
    if (head.trailer !== undefined) headers.push('trailer', head.trailer);
    // A chunked request body stays chunked (trailers need it); Node would not chunk a GET's body itself.
    if (head.hasBody && req.headers['content-length'] === undefined) headers.push('transfer-encoding', 'chunked');
    const { protocol, host, port } = upstream.target;
    const transport = protocol === 'https' ? https : http;
    let responseStarted = false;
    let bodySent = false;
    let done = false;
    upstream.acquire();
    const finish = (): void => {
      if (done) return;
      done = true;
      this.#open.delete(request);
      upstream.release();
    };
    const request = transport.request({
      host,
      port,
      method: req.method,
      path: target,
      headers,
      setHost: false,
      agent: false,
      timeout: options.connectTimeoutMs,
      ...(protocol === 'https' ? { rejectUnauthorized: options.upstreamRejectUnauthorized, ...(options.upstreamCa === undefined ? {} : { ca: options.upstreamCa }) } : {}),
    });
    this.#open.add(request);
    const sendBody = (): void => {
      if (bodySent) return;
      bodySent = true;
      if (!head.hasBody) {
        request.end();
        return;
      }
      req.pipe(request, { end: false });
      req.once('end', () => {
        relayTrailers(request, req.trailers, true);
        request.end();
      });
    };
    request.once('socket', (socket) => {
      // Connect timeout first; once connected, the response-headers timeout.
      socket.once(protocol === 'https' ? 'secureConnect' : 'connect', () => request.setTimeout(options.responseTimeoutMs));
    });
    request.on('timeout', () => request.destroy(Object.assign(new Error('upstream timeout'), { code: responseStarted ? 'UND_ERR_BODY_TIMEOUT' : 'UND_ERR_HEADERS_TIMEOUT' })));
    request.on('continue', () => {
      // A 100 the client asked for is relayed, then the body follows; an unasked one is absorbed.
      if (!expectContinue || responseStarted) return;
      if (!res.headersSent) res.writeContinue();
      sendBody();
    });
    request.on('response', (response) => {
      responseStarted = true;
      upstream.succeeded();
      const status = response.statusCode ?? 502;
      // A 5xx is the backend's own failure: reachable, but the status page shows it as the last error.
      if (status >= 500) upstream.failed(`HTTP ${status} from the backend`);
      stats?.observeLatency((performance.now() - started) / 1000);
      if (expectContinue && !bodySent) {
        // A final answer before the 100: the client never sends its body on this connection.
        res.shouldKeepAlive = false;
        bodySent = true;
      }
      if (this.stopping) res.shouldKeepAlive = false;
      const relayed = rewriteResponseHeaders(response.headers, head.requestId);
      if (setCookie !== undefined) relayed.push('set-cookie', setCookie);
      try {
        res.writeHead(status, response.statusMessage, relayed);
      } catch (error) {
        request.destroy(error as Error);
        return;
      }
      const timeout = isEventStream(response.headers['content-type']) ? 0 : (route.bodyTimeoutMs ?? options.bodyTimeoutMs);
      request.setTimeout(timeout);
      response.pipe(res, { end: false });
      response.once('end', () => {
        relayTrailers(res, response.trailers);
        res.end();
        stats?.answered(status);
        finish();
      });
      response.once('error', (error) => request.destroy(error));
    });
    request.on('error', (error) => {
      if (done) return;
      if (res.destroyed || (res.writableEnded && !res.writableFinished)) {
        stats?.answered(0);
        finish();
        return;
      }
      const failure = statusError(error, bodySent || !expectContinue);
      if (failure.code === 'RP_ERR_UPSTREAM_CONNECT' && !responseStarted) upstream.connectFailed(failure.message);
      else upstream.failed(failure.message);
      logger.warn({ code: failure.code, status: responseStarted ? 'cut' : failure.statusCode, upstream: upstream.origin, requestId: head.requestId, err: failure.message }, 'forwarding failed');
      if (responseStarted) stats?.cut();
      else stats?.answered(failure.statusCode ?? 502);
      // Before any answer: a clean error status. After: the client connection ends (never a clean short answer).
      if (!responseStarted && expectContinue && !bodySent) res.shouldKeepAlive = false;
      sendError(res, failure.statusCode ?? 502, failure.code, head.requestId);
      finish();
    });
    res.once('close', () => {
      if (done || res.writableFinished) return;
      // The client went away: abort the upstream request (499 in the metrics).
      stats?.answered(0);
      finish();
      request.destroy();
    });
    req.once('error', () => request.destroy());
    if (!expectContinue) sendBody();
    else request.flushHeaders();
  }

  /** Destroys the requests still running (a stop past its deadline). */
  destroy(): void {
    for (const request of this.#open) request.destroy();
    this.#open.clear();
  }
}
