/**
 * The listening side of the control plane: an HTTPS server (HTTP only with `insecure`) whose every
 * phase before the upgrade is bounded (TLS handshake, request headers), a `ws` server in `noServer`
 * mode that only completes upgrades the control plane has authenticated, and the bookkeeping of raw
 * sockets so that `close()` leaves nothing open. Plain HTTP requests get 426 Upgrade Required.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createSecureContext } from 'node:tls';
import { WebSocketServer, type Server as WsServer, type ServerOptions as WsServerOptions } from 'ws';
import { ListenError, TlsError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { SUBPROTOCOL } from '../../shared/protocol.js';
import { publicKeyPin } from '../../shared/tls/public-key-pin.js';
import type { ControlPlaneTls, ResolvedLimits } from './control-plane-options.js';
import { ControlSocket } from './control-socket.js';

/** Largest accepted upgrade request header block, in bytes; a token and a few headers need ~2 KiB. */
export const MAX_UPGRADE_HEADER_BYTES = 16 * 1024;

/** Options of {@link ControlServer}. */
export interface ControlServerOptions {
  readonly tls: Readonly<ControlPlaneTls> | undefined;
  readonly limits: ResolvedLimits;
  readonly closeTimeoutMs: number;
  readonly logger: Logger;
}

/** The HTTP(S) and ws servers of the control plane. */
export class ControlServer {
  /** SHA-256 SPKI pin of the certificate (base64), or undefined without TLS. */
  readonly pin: string | undefined;
  /** ws server in `noServer` mode; `handleUpgrade` is called only after authentication. */
  readonly wss: WsServer<typeof ControlSocket>;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #logger: Logger;

  /** @throws {TlsError} when the certificate or key cannot be used. */
  constructor(options: ControlServerOptions) {
    const { tls, limits, logger } = options;
    this.#logger = logger;
    if (tls !== undefined) {
      try {
        createSecureContext({ cert: tls.cert, key: tls.key });
      } catch (error) {
        throw new TlsError(`control plane certificate or key is unusable: ${(error as Error).message}`, { cause: error });
      }
      this.pin = publicKeyPin(tls.cert);
    }
    const serverOptions = {
      // Bound every phase before the upgrade so that half-open or silent connections cannot pile up;
      // the default checking interval (30 s) would let them live far longer than the timeout.
      headersTimeout: limits.handshakeTimeoutMs,
      requestTimeout: limits.handshakeTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, limits.handshakeTimeoutMs),
      maxHeaderSize: MAX_UPGRADE_HEADER_BYTES,
    };
    this.#server =
      tls === undefined
        ? createHttpServer(serverOptions)
        : createHttpsServer({ ...serverOptions, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', handshakeTimeout: limits.handshakeTimeoutMs });
    // `closeTimeout` (ws >= 8.19) is missing from @types/ws, hence the widened options object.
    const wsOptions: WsServerOptions<typeof ControlSocket> & { closeTimeout: number } = {
      noServer: true,
      WebSocket: ControlSocket,
      maxPayload: limits.maxFrameBytes,
      // Compression would let a small frame inflate past every limit and costs CPU per frame.
      perMessageDeflate: false,
      clientTracking: false,
      closeTimeout: options.closeTimeoutMs,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    };
    this.wss = new WebSocketServer<typeof ControlSocket>(wsOptions);
  }

  /**
   * Listens and routes upgrade requests to `onUpgrade`. Errors after listening go to `onError`.
   *
   * @throws {ListenError} when the address cannot be bound.
   */
  async listen(
    port: number,
    host: string,
    onUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void,
    onError: (error: Error) => void,
  ): Promise<AddressInfo> {
    const server = this.#server;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('request', (request: IncomingMessage, response: ServerResponse) => upgradeRequired(request, response));
    server.on('upgrade', onUpgrade);
    server.on('clientError', (error, socket) => {
      this.#logger.debug({ err: error }, 'client error before the upgrade');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      socket.destroy();
    });
    server.on('tlsClientError', (error) => this.#logger.debug({ err: error }, 'TLS handshake failed'));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
      throw new ListenError(`control plane cannot listen on ${host}:${port} (${code})`, { cause: error });
    }
    server.on('error', onError);
    return server.address() as AddressInfo;
  }

  /** Stops accepting connections; resolves once every connection is gone (see {@link destroySockets}). */
  stopAccepting(): Promise<void> {
    return new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Destroys every connection still open (pending handshakes, stray sockets). */
  destroySockets(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#server.closeAllConnections();
  }
}

function upgradeRequired(request: IncomingMessage, response: ServerResponse): void {
  request.resume();
  const body = `this port serves the inteli-proxy control plane: a WebSocket with sub-protocol ${SUBPROTOCOL}\n`;
  response.writeHead(426, {
    Connection: 'close',
    Upgrade: 'websocket',
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(body);
}
