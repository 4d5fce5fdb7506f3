/**
 * The request path: normalise the target, rewrite the headers, find the route, let its affinity or its
 * policy pick an upstream (both see the request's facts, in one reused object), and hand over to the
 * forwarder: undici, or the Node-client path for `Expect: 100-continue`, announced request trailers and
 * upstreams that send unasked 100s (or the tunnels for upgrades). Everything it needs was computed when
 * the registry last changed; per request it does one pass over the headers, O(segments) map lookups and
 * an O(1) pick. Nothing thrown here can escape into Node's event loop.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../shared/logger.js';
import type { ResolvedDataPlaneOptions } from './data-plane-options.js';
import { sendError, writeSocketError } from './error-response.js';
import { buildRequestHead } from './forward-headers.js';
import type { Forwarder } from './forwarder.js';
import type { NodeHttpForwarder } from './node-http-forwarder.js';
import { normalizeTarget, pathEnd, splitAbsoluteForm } from '../../shared/routing/path-normalizer.js';
import { MutableRequestFacts } from './request-facts.js';
import type { Route } from './route.js';
import type { RoutingState } from './routing-state.js';
import type { Upstream } from './upstream.js';
import type { WebSocketTunnels } from './websocket-tunnel.js';

const SLASH = 0x2f;

/**
 * Most request headers accepted. Node keeps at most `server.maxHeadersCount` headers and drops the rest
 * silently, so the listeners keep one more than this and a request that reaches it is refused with 431
 * instead of being forwarded with a truncated header list.
 */
export const MAX_REQUEST_HEADERS = 2000;
const MAX_RAW_HEADERS = 2 * MAX_REQUEST_HEADERS;

/** The request target without its query string: a query may carry a token, and logs must never hold one. */
function loggablePath(url: string | undefined): string {
  const target = url ?? '';
  const query = target.indexOf('?');
  return query === -1 ? target : target.slice(0, query);
}

function onSocketError(this: Duplex): void {
  this.destroy();
}

/** Handles requests and upgrades for the data plane's listeners. */
export class ProxyHandler {
  /** Set by a graceful stop: new requests get 503 and `Connection: close`. */
  stopping = false;
  readonly #routing: RoutingState;
  readonly #forwarder: Forwarder;
  readonly #http1: NodeHttpForwarder | undefined;
  readonly #tunnels: WebSocketTunnels;
  /** Read per request, so a reload (`DataPlane.reconfigure`) applies to the next request. */
  options: ResolvedDataPlaneOptions;
  readonly #logger: Logger;
  /**
   * Client connections answered with a 400 and `Connection: close`. Node still emits the requests that
   * were pipelined behind the refused one; they must not reach a backend (their answers would never be
   * sent, but their side effects would happen).
   */
  readonly #refused = new WeakSet<object>();
  /** The facts of the request being routed, reused: a pick is synchronous. */
  readonly #facts = new MutableRequestFacts();

  /** `request` listener of the HTTP listener. */
  readonly onHttpRequest = (req: IncomingMessage, res: ServerResponse): void => this.#request(req, res, false);
  /** `request` listener of the HTTPS listener. */
  readonly onHttpsRequest = (req: IncomingMessage, res: ServerResponse): void => this.#request(req, res, true);
  /** `upgrade` listener of the HTTP listener. */
  readonly onHttpUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.#upgrade(req, socket, head, false);
  /** `upgrade` listener of the HTTPS listener. */
  readonly onHttpsUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.#upgrade(req, socket, head, true);
  /**
   * `connect` listener of both listeners. A reverse proxy opens no CONNECT tunnels; without a listener Node
   * closes the socket silently, so the client would get no answer at all.
   */
  readonly onConnect = (_req: IncomingMessage, socket: Duplex): void => {
    socket.on('error', onSocketError);
    writeSocketError(socket, 400, 'RP_ERR_BAD_REQUEST', undefined);
  };

  /**
   * @param http1 the Node-client path for `Expect: 100-continue` and requests that announce trailers
   *   (see `node-http-forwarder.ts`); without it those go through `forwarder` too.
   */
  constructor(routing: RoutingState, forwarder: Forwarder, tunnels: WebSocketTunnels, options: ResolvedDataPlaneOptions, logger: Logger, http1?: NodeHttpForwarder) {
    this.#routing = routing;
    this.#forwarder = forwarder;
    this.#http1 = http1;
    this.#tunnels = tunnels;
    this.options = options;
    this.#logger = logger;
  }

  #request(req: IncomingMessage, res: ServerResponse, encrypted: boolean): void {
    try {
      if (this.stopping) {
        sendError(res, 503, 'RP_ERR_SHUTTING_DOWN', undefined, true);
        return;
      }
      if (this.#refused.has(req.socket) || req.rawHeaders.length > MAX_RAW_HEADERS) {
        this.#refuse(req, res, this.#refused.has(req.socket) ? 400 : 431, undefined);
        return;
      }
      let url = req.url ?? '';
      let authority: string | undefined;
      if (url.charCodeAt(0) !== SLASH) {
        const absolute = splitAbsoluteForm(url);
        authority = absolute?.authority;
        url = absolute?.target ?? url;
      }
      const target = normalizeTarget(url);
      if (target === undefined) {
        sendError(res, 400, 'RP_ERR_BAD_REQUEST', undefined);
        return;
      }
      const head = buildRequestHead(req, encrypted, this.options.trustedProxies, false, authority, this.options.proxyId);
      // RFC 9112 section 3.2: an HTTP/1.1 request without a Host, or with two, is answered 400 (the
      // listeners leave the missing-Host check to this handler so the connection is marked refused).
      if (head.duplicateHost || (head.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor === 1)) {
        this.#refuse(req, res, 400, head.requestId);
        return;
      }
      if (head.loop) {
        this.#routing.stats.loops += 1;
        sendError(res, 508, 'RP_ERR_LOOP_DETECTED', head.requestId);
        return;
      }
      const route = this.#routing.table.match(head.host, target, pathEnd(target));
      if (route === undefined) {
        this.#routing.stats.noRoute += 1;
        sendError(res, this.options.noTargetStatus, 'RP_ERR_NO_ROUTE', head.requestId);
        return;
      }
      const facts = this.#facts.reset(req.method, target, head.host, req.socket.remoteAddress, req.rawHeaders, encrypted);
      const upstream = this.#pick(route, facts);
      if (upstream === undefined) {
        this.#routing.stats.refusedNoTarget(route.key);
        sendError(res, this.options.noTargetStatus, 'RP_ERR_NO_TARGET', head.requestId);
        return;
      }
      if (this.options.accessLog) this.#logAccess(req, res, target, upstream.origin, head.requestId);
      if (this.#http1 !== undefined && (head.trailer !== undefined || (head.hasBody && (head.expectContinue || upstream.interimResponses)))) {
        this.#http1.forward(req, res, route, upstream, target, head, facts.setCookie);
      } else {
        this.#forwarder.forward(req, res, route, upstream, target, head, facts.setCookie);
      }
    } catch (error) {
      this.#logger.error({ err: (error as Error).message, path: loggablePath(req.url) }, 'request handling failed');
      sendError(res, 502, 'RP_ERR_UPSTREAM_RESPONSE', undefined, true);
    }
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, encrypted: boolean): void {
    // Node hands the socket over without an error listener; an error must not crash the process.
    socket.on('error', onSocketError);
    try {
      if (this.stopping) {
        writeSocketError(socket, 503, 'RP_ERR_SHUTTING_DOWN', undefined);
        return;
      }
      let url = req.url ?? '';
      let authority: string | undefined;
      if (url.charCodeAt(0) !== SLASH) {
        const absolute = splitAbsoluteForm(url);
        authority = absolute?.authority;
        url = absolute?.target ?? url;
      }
      const target = normalizeTarget(url);
      if (target === undefined) {
        writeSocketError(socket, 400, 'RP_ERR_BAD_REQUEST', undefined);
        return;
      }
      const requestHead = buildRequestHead(req, encrypted, this.options.trustedProxies, true, authority, this.options.proxyId);
      if (req.rawHeaders.length > MAX_RAW_HEADERS) {
        writeSocketError(socket, 431, 'RP_ERR_BAD_REQUEST', undefined);
        return;
      }
      if (requestHead.duplicateHost || requestHead.host === undefined) {
        writeSocketError(socket, 400, 'RP_ERR_BAD_REQUEST', requestHead.requestId);
        return;
      }
      // An upgrade that loops would open a new connection per hop, without end (issue 14).
      if (requestHead.loop) {
        this.#routing.stats.loops += 1;
        writeSocketError(socket, 508, 'RP_ERR_LOOP_DETECTED', requestHead.requestId);
        return;
      }
      const route = this.#routing.table.match(requestHead.host, target, pathEnd(target));
      const upstream = route === undefined ? undefined : this.#pick(route, this.#facts.reset(req.method, target, requestHead.host, req.socket.remoteAddress, req.rawHeaders, encrypted));
      if (upstream === undefined) {
        if (route === undefined) this.#routing.stats.noRoute += 1;
        else this.#routing.stats.refusedNoTarget(route.key);
        writeSocketError(socket, this.options.noTargetStatus, route === undefined ? 'RP_ERR_NO_ROUTE' : 'RP_ERR_NO_TARGET', requestHead.requestId);
        return;
      }
      this.#tunnels.open(req, socket, head, upstream, target, requestHead);
    } catch (error) {
      this.#logger.error({ err: (error as Error).message, path: loggablePath(req.url) }, 'upgrade handling failed');
      socket.destroy();
    }
  }

  /** The route's affinity decides when it has one, else its policy (both see the request's facts). */
  #pick(route: Route, facts: MutableRequestFacts): Upstream | undefined {
    return route.affinity === undefined ? route.selector.select(undefined, facts) : route.affinity.select(route.selector, facts);
  }

  /** Answers 400 or 431 with `Connection: close` and refuses whatever was pipelined behind the request. */
  #refuse(req: IncomingMessage, res: ServerResponse, status: number, requestId: string | undefined): void {
    this.#refused.add(req.socket);
    sendError(res, status, 'RP_ERR_BAD_REQUEST', requestId, true);
  }

  #logAccess(req: IncomingMessage, res: ServerResponse, target: string, origin: string, requestId: string): void {
    const started = performance.now();
    const logger = this.#logger;
    res.once('close', () => {
      logger.info(
        {
          method: req.method,
          url: this.options.accessLogQuery ? target : loggablePath(target),
          httpVersion: req.httpVersion,
          status: res.writableFinished ? res.statusCode : 499,
          upstream: origin,
          ms: Math.round((performance.now() - started) * 10) / 10,
          requestId,
        },
        'access',
      );
    });
  }
}
