/**
 * The HTTPS listener with HTTP/2: ALPN offers `h2` and `http/1.1` (`allowHTTP1`), both handled by the same
 * proxy handler through the {@link ProxyH2Request}/{@link ProxyH2Response} adapters; upstreams stay
 * HTTP/1.1. WebSocket upgrades keep working over HTTP/1.1 on the same port (RFC 8441 extended CONNECT is
 * not offered, so a browser opens its WebSocket over an HTTP/1.1 connection).
 *
 * Limits (the known HTTP/2 attacks, each bounded):
 * - concurrent streams per session (`SETTINGS_MAX_CONCURRENT_STREAMS`, default 100; nginx uses 128),
 * - header list size (`maxHeaderSize`, as for HTTP/1.1) and pairs, which also bounds a CONTINUATION flood
 *   (nghttp2 refuses a header block past the limit and caps CONTINUATION frames),
 * - rapid reset (CVE-2023-44487): streams the client resets before their answer are counted per session in
 *   a token bucket; past it the session gets GOAWAY ENHANCE_YOUR_CALM and is destroyed, so a client
 *   cannot make the proxy start backend requests faster than that,
 * - SETTINGS/PING floods: nghttp2 stops a peer that does not read its acknowledgements (outbound queue
 *   bound), Node bounds the memory per session (`maxSessionMemory`), invalid frames and refused streams,
 * - an idle session is closed (GOAWAY) after `clientKeepAliveTimeoutMs`, the TLS handshake is bounded by
 *   `clientHeadersTimeoutMs`, a request body by `clientRequestTimeoutMs` (the stream is reset); the
 *   HTTP/1.1 fallback keeps every HTTP/1.1 deadline.
 *
 * Graceful stop: `closeIdleConnections()` closes idle HTTP/1.1 connections and sends GOAWAY on every
 * session (open streams finish, no new one starts); `closeAllConnections()` destroys what is left.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Http2SecureServer, type Http2Session, type SecureServerOptions, type ServerHttp2Stream, constants, createSecureServer } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { TlsError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { DataPlaneTlsHooks } from './data-plane.js';
import type { ResolvedDataPlaneOptions } from './data-plane-options.js';
import { sendError } from './error-response.js';
import { ProxyH2Request, ProxyH2Response } from './h2-compat.js';
import { MAX_REQUEST_HEADERS, type ProxyHandler } from './proxy-handler.js';

/** Streams a client may reset before their answer in a burst, per session (rapid reset guard). */
export const H2_RESET_BURST = 200;
/** Resets per second refilled into that burst. */
export const H2_RESET_RATE_PER_S = 50;
/** Most invalid frames per session before it is closed (Node's default is 1000). */
const MAX_SESSION_INVALID_FRAMES = 100;

/** Counters of the HTTPS listener (plain integers, read at scrape time). */
export class ListenerProtocolStats {
  /** Requests by downstream protocol (both listeners). */
  readonly requests = { 'http/1.1': 0, h2: 0 };
  /** Open HTTP/2 sessions. */
  h2Sessions = 0;
  /** HTTP/2 sessions closed (rapid_reset) or streams reset (request_timeout) for breaking a limit. */
  readonly h2Abuse: Record<string, number> = {};
}

/** The listener with the connection-closing methods a graceful stop uses. */
export type SecureListener = Http2SecureServer & {
  closeIdleConnections(): void;
  closeAllConnections(): void;
};

/** A token bucket in whole resets, refilled by elapsed time. */
class ResetBucket {
  #tokens = H2_RESET_BURST;
  #at = performance.now();
  take(): boolean {
    const now = performance.now();
    this.#tokens = Math.min(H2_RESET_BURST, this.#tokens + ((now - this.#at) / 1000) * H2_RESET_RATE_PER_S);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

function onSocketError(this: Duplex): void {
  this.destroy();
}

/**
 * Creates the HTTPS listener (not yet listening) and attaches the handler's request, upgrade and CONNECT
 * listeners.
 *
 * @throws {TlsError} without a certificate; Node's own error when it cannot be used (the caller maps it).
 */
export function createSecureListener(
  options: ResolvedDataPlaneOptions,
  hooks: DataPlaneTlsHooks,
  handler: ProxyHandler,
  stats: ListenerProtocolStats,
  logger: Logger,
): SecureListener {
  const tls = options.tls;
  if (tls === undefined) throw new TlsError('the HTTPS listener needs a certificate');
  const serverOptions: SecureServerOptions = {
    cert: tls.cert,
    key: tls.key,
    allowHTTP1: true,
    ...(hooks.sniCallback === undefined ? {} : { SNICallback: hooks.sniCallback }),
    handshakeTimeout: options.clientHeadersTimeoutMs,
    Http2ServerRequest: ProxyH2Request,
    Http2ServerResponse: ProxyH2Response as unknown as SecureServerOptions['Http2ServerResponse'],
    maxSessionInvalidFrames: MAX_SESSION_INVALID_FRAMES,
    maxSessionRejectedStreams: 100,
    maxOutstandingPings: 10,
    maxSettings: 32,
    // Header pairs: the HTTP/1.1 bound plus the four pseudo-headers.
    maxHeaderListPairs: MAX_REQUEST_HEADERS + 4,
    settings: {
      enablePush: false,
      maxConcurrentStreams: options.h2MaxConcurrentStreams,
      maxHeaderListSize: options.maxHeaderSize,
    },
  };
  const server = createSecureServer(serverOptions) as SecureListener;
  // The HTTP/1.1 fallback reads these from the server object, as an `http.Server` would.
  const http1 = server as unknown as Record<string, unknown>;
  http1.requestTimeout = options.clientRequestTimeoutMs;
  http1.headersTimeout = options.clientHeadersTimeoutMs;
  http1.keepAliveTimeout = options.clientKeepAliveTimeoutMs;
  http1.maxHeaderSize = options.maxHeaderSize;
  http1.maxHeadersCount = MAX_REQUEST_HEADERS + 1;
  http1.requireHostHeader = false;
  http1.connectionsCheckingInterval = Math.min(1000, Math.max(50, Math.floor(options.clientHeadersTimeoutMs / 4)));

  const sessions = new Set<Http2Session>();
  const http1Sockets = new Set<TLSSocket>();
  const abused = (session: Http2Session, reason: string): void => {
    stats.h2Abuse[reason] = (stats.h2Abuse[reason] ?? 0) + 1;
    logger.warn({ reason, peer: session.socket?.remoteAddress }, 'HTTP/2 session closed for breaking a limit');
    // destroy() with a code sends it in the final GOAWAY before closing the socket.
    if (!session.destroyed) session.destroy(undefined, constants.NGHTTP2_ENHANCE_YOUR_CALM);
  };

  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') return;
    http1Sockets.add(socket);
    socket.once('close', () => http1Sockets.delete(socket));
  });
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    stats.h2Sessions += 1;
    const resets = new ResetBucket();
    session.once('close', () => {
      sessions.delete(session);
      stats.h2Sessions -= 1;
    });
    session.on('error', (error: Error) => logger.debug({ err: error.message }, 'HTTP/2 session error'));
    if (options.clientKeepAliveTimeoutMs > 0) {
      session.setTimeout(options.clientKeepAliveTimeoutMs, () => {
        if (!session.closed) session.close();
      });
    }
    session.on('stream', (stream: ServerHttp2Stream) => {
      stream.once('close', () => {
        // Reset (by the client: CANCEL or any error code; rarely by the proxy, after an upstream failure).
        // A browser cancels a stream now and then; thousands a second is the attack.
        if (stream.rstCode !== undefined && stream.rstCode !== constants.NGHTTP2_NO_ERROR && !resets.take()) abused(session, 'rapid_reset');
      });
    });
  });
  server.on('sessionError', (error: Error) => logger.debug({ err: error.message }, 'HTTP/2 session failed'));

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.httpVersionMajor !== 2) {
      stats.requests['http/1.1'] += 1;
      handler.onHttpsRequest(req, res);
      return;
    }
    stats.requests.h2 += 1;
    // nghttp2 hands over each stream while it is still parsing the rest of the read: a RST_STREAM right
    // behind the HEADERS (rapid reset) is seen only after this callback. Handling the request after the
    // read is done means a stream reset in the same read never becomes a backend request (without this,
    // 1,500 HEADERS+RST pairs queued 1,500 aborted requests on the upstream pool).
    setImmediate(handleH2, req, res);
  });
  const handleH2 = (req: IncomingMessage, res: ServerResponse): void => {
    const stream = (req as unknown as ProxyH2Request).stream;
    if (stream.destroyed || stream.closed) return;
    // clientRequestTimeoutMs bounds a request body as on HTTP/1.1 (a slow POST): past it the stream is
    // reset, which aborts the upstream request. A request without a body has nothing to wait for.
    if (options.clientRequestTimeoutMs > 0 && !stream.endAfterHeaders) {
      const timer = setTimeout(() => {
        if (!req.readableEnded && !stream.closed) {
          stats.h2Abuse.request_timeout = (stats.h2Abuse.request_timeout ?? 0) + 1;
          stream.close(constants.NGHTTP2_CANCEL);
        }
      }, options.clientRequestTimeoutMs);
      const clear = (): void => clearTimeout(timer);
      req.once('end', clear);
      stream.once('close', clear);
    }
    handler.onHttpsRequest(req, res);
  };
  server.on('upgrade', handler.onHttpsUpgrade);
  server.on('connect', (req: IncomingMessage, second: ServerResponse | Socket) => {
    // HTTP/2 CONNECT (and RFC 8441 extended CONNECT) arrives with a response object, HTTP/1.1 with a socket.
    if (req.httpVersionMajor === 2) {
      sendError(second as ServerResponse, 400, 'RP_ERR_BAD_REQUEST', undefined);
      return;
    }
    (second as Socket).on('error', onSocketError);
    handler.onConnect(req, second as Socket);
  });

  const closeIdleHttp1 = (server as { closeIdleConnections?: () => void }).closeIdleConnections?.bind(server);
  server.closeIdleConnections = (): void => {
    closeIdleHttp1?.();
    for (const session of sessions) if (!session.closed) session.close();
  };
  server.closeAllConnections = (): void => {
    for (const session of sessions) session.destroy();
    for (const socket of http1Sockets) socket.destroy();
  };
  return server;
}
