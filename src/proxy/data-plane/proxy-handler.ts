/**
 * The request path: normalise the target, rewrite the headers, find the route, let its policy pick an
 * upstream, and hand over to the forwarder (or the tunnels for upgrades). Everything it needs was
 * computed when the registry last changed; per request it does one pass over the headers, O(segments) map
 * lookups and an O(1) pick. Nothing thrown here can escape into Node's event loop.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../shared/logger.js';
import type { ResolvedDataPlaneOptions } from './data-plane-options.js';
import { sendError, writeSocketError } from './error-response.js';
import { buildRequestHead } from './forward-headers.js';
import type { Forwarder } from './forwarder.js';
import { normalizeTarget, pathEnd, splitAbsoluteForm } from './path-normalizer.js';
import type { RoutingState } from './routing-state.js';
import type { WebSocketTunnels } from './websocket-tunnel.js';

const SLASH = 0x2f;

function onSocketError(this: Duplex): void {
  this.destroy();
}

/** Handles requests and upgrades for the data plane's listeners. */
export class ProxyHandler {
  /** Set by a graceful stop: new requests get 503 and `Connection: close`. */
  stopping = false;
  readonly #routing: RoutingState;
  readonly #forwarder: Forwarder;
  readonly #tunnels: WebSocketTunnels;
  readonly #options: ResolvedDataPlaneOptions;
  readonly #logger: Logger;

  /** `request` listener of the HTTP listener. */
  readonly onHttpRequest = (req: IncomingMessage, res: ServerResponse): void => this.#request(req, res, false);
  /** `request` listener of the HTTPS listener. */
  readonly onHttpsRequest = (req: IncomingMessage, res: ServerResponse): void => this.#request(req, res, true);
  /** `upgrade` listener of the HTTP listener. */
  readonly onHttpUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.#upgrade(req, socket, head, false);
  /** `upgrade` listener of the HTTPS listener. */
  readonly onHttpsUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.#upgrade(req, socket, head, true);

  constructor(routing: RoutingState, forwarder: Forwarder, tunnels: WebSocketTunnels, options: ResolvedDataPlaneOptions, logger: Logger) {
    this.#routing = routing;
    this.#forwarder = forwarder;
    this.#tunnels = tunnels;
    this.#options = options;
    this.#logger = logger;
  }

  #request(req: IncomingMessage, res: ServerResponse, encrypted: boolean): void {
    try {
      if (this.stopping) {
        sendError(res, 503, 'RP_ERR_SHUTTING_DOWN', undefined, true);
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
      const head = buildRequestHead(req, encrypted, this.#options.trustedProxies, false, authority);
      const route = this.#routing.table.match(head.host, target, pathEnd(target));
      if (route === undefined) {
        sendError(res, this.#options.noTargetStatus, 'RP_ERR_NO_ROUTE', head.requestId);
        return;
      }
      const upstream = route.selector.select();
      if (upstream === undefined) {
        sendError(res, this.#options.noTargetStatus, 'RP_ERR_NO_TARGET', head.requestId);
        return;
      }
      if (this.#options.accessLog) this.#logAccess(req, res, target, upstream.origin, head.requestId);
      this.#forwarder.forward(req, res, route, upstream, target, head);
    } catch (error) {
      this.#logger.error({ err: (error as Error).message, url: req.url }, 'request handling failed');
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
      const requestHead = buildRequestHead(req, encrypted, this.#options.trustedProxies, true, authority);
      const route = this.#routing.table.match(requestHead.host, target, pathEnd(target));
      const upstream = route?.selector.select();
      if (upstream === undefined) {
        writeSocketError(socket, this.#options.noTargetStatus, route === undefined ? 'RP_ERR_NO_ROUTE' : 'RP_ERR_NO_TARGET', requestHead.requestId);
        return;
      }
      this.#tunnels.open(req, socket, head, upstream, target, requestHead);
    } catch (error) {
      this.#logger.error({ err: (error as Error).message, url: req.url }, 'upgrade handling failed');
      socket.destroy();
    }
  }

  #logAccess(req: IncomingMessage, res: ServerResponse, target: string, origin: string, requestId: string): void {
    const started = performance.now();
    const logger = this.#logger;
    res.once('close', () => {
      logger.info(
        {
          method: req.method,
          url: target,
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
