/**
 * One authenticated control-plane connection of a client (an agent or an admin): the dial (token in the
 * upgrade request, after the proxy was verified), request/reply matching by `id`, and an idle watchdog. It knows nothing about
 * reconnecting or web servers; `ProxyWebServer` and `ProxySysAdmin` build on top of it.
 */
import { EventEmitter } from 'node:events';
import type { ClientRequest } from 'node:http';
import type { Socket, createConnection } from 'node:net';
import type { TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import { ControlError, ProxyError, TimeoutError, TlsError, type ErrorCode } from '../errors.js';
import { CLUSTER_PROOF_HEADER } from '../discovery/channel-proof.js';
import type { ChannelProofClient } from './client-options.js';
import type { Logger } from '../logger.js';
import { SUBPROTOCOL, type ServerMessage } from '../protocol.js';
import { createVerifiedConnector, type ProxyVerification } from './proxy-tls.js';
import { parseServerMessage } from './server-message.js';
import { UpgradeRefusedError } from './upgrade-refused-error.js';
import { peerCertificatePin } from '../tls/public-key-pin.js';

/** Largest frame a client accepts from the proxy, in bytes (a `backends.list` answer can be large). */
export const MAX_INCOMING_FRAME_BYTES = 1024 * 1024;
/** Largest frame a client sends (the proxy's default limit). */
export const MAX_OUTGOING_FRAME_BYTES = 64 * 1024;

/** How long a graceful close waits for the proxy's close frame before the socket is cut, in ms. */
export const CONTROL_CLOSE_TIMEOUT_MS = 2000;

/** Options of {@link ControlConnection.open}. */
export interface ControlConnectionOptions {
  readonly url: URL;
  /**
   * Bearer token for this dial (never logged), or a function that signs it once the connection is up,
   * given the public-key pin of the certificate the proxy presented (undefined over plain `ws:`).
   */
  readonly token: string | ((peerPin: string | undefined) => Promise<string>);
  /** How the proxy is verified; ignored for `ws:` URLs. */
  readonly verification: ProxyVerification;
  readonly handshakeTimeoutMs: number;
  /** Silence after which the connection is cut (0: never). */
  readonly idleTimeoutMs: number;
  /** The discovery channel proof, for `wss:` dials to a discovered proxy (see client-options.ts). */
  readonly channelProof?: ChannelProofClient | undefined;
  readonly logger: Logger;
}

/** Events of {@link ControlConnection}. */
export interface ControlConnectionEvents {
  /** A frame that is not the reply to a pending request (`drained`, `event`, an `error` without a known id). */
  frame: [message: ServerMessage];
  /** The connection closed (1006 when it was cut). Emitted once. */
  close: [code: number, reason: string];
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** Maps an HTTP status refusing the upgrade to an error code. */
function upgradeRefusal(status: number): ErrorCode {
  if (status === 401) return 'RP_ERR_UNAUTHORIZED';
  if (status === 403) return 'RP_ERR_FORBIDDEN';
  if (status === 429) return 'RP_ERR_LIMIT_EXCEEDED';
  if (status === 503) return 'RP_ERR_SHUTTING_DOWN';
  return 'RP_ERR_DISCONNECTED';
}

/**
 * A ws `finishRequest` that adds the bearer token once the connection is up (and, with TLS, verified:
 * the socket reaches the request only after {@link createVerifiedConnector} accepted it), signed for
 * the pin of the certificate on that connection, then sends the upgrade request.
 */
function signedOnConnect(sign: (peerPin: string | undefined) => Promise<string>, secure: boolean): (request: ClientRequest) => void {
  return (request) => {
    const send = (pin: string | undefined): void => {
      sign(pin).then(
        (token) => {
          if (request.destroyed) return;
          request.setHeader('Authorization', `Bearer ${token}`);
          request.end();
        },
        (error: unknown) => request.destroy(error as Error),
      );
    };
    if (!secure) {
      send(undefined);
      return;
    }
    const onSocket = (socket: Socket): void => {
      let pin: string | undefined;
      try {
        pin = peerCertificatePin((socket as TLSSocket).getPeerCertificate(false));
      } catch {
        pin = undefined;
      }
      if (pin === undefined) request.destroy(new TlsError('the proxy presented no certificate to derive the token audience from'));
      else send(pin);
    };
    if (request.socket !== null) onSocket(request.socket);
    else request.once('socket', onSocket);
  };
}

/**
 * The ws `finishRequest` of a dial, when one is needed: the agent's discovery channel proof is computed
 * from this connection's TLS session (so only once the verified socket is there), then the token is
 * signed on connect when it is a function. Without either, ws ends the request itself.
 */
function finishRequestOption(
  token: ControlConnectionOptions['token'],
  secure: boolean,
  channelProof: ChannelProofClient | undefined,
): { finishRequest?: (request: ClientRequest) => void } {
  const sign = typeof token === 'string' ? undefined : signedOnConnect(token, secure);
  if (!secure || channelProof === undefined) return sign === undefined ? {} : { finishRequest: sign };
  return {
    finishRequest: (request) => {
      const onSocket = (socket: Socket): void => {
        try {
          request.setHeader(CLUSTER_PROOF_HEADER, channelProof.channelProof(socket as TLSSocket));
        } catch (error) {
          request.destroy(error as Error);
          return;
        }
        if (sign === undefined) request.end();
        else sign(request);
      };
      if (request.socket !== null) onSocket(request.socket);
      else request.once('socket', onSocket);
    },
  };
}

/** An open control connection. */
export class ControlConnection extends EventEmitter<ControlConnectionEvents> {
  readonly #ws: WebSocket;
  readonly #logger: Logger;
  readonly #pending = new Map<string, Pending>();
  readonly #closed: Promise<void>;
  readonly #localAddress: string | undefined;
  #nextId = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #lastSeen = Date.now();

  private constructor(ws: WebSocket, idleTimeoutMs: number, localAddress: string | undefined, logger: Logger) {
    super();
    this.#ws = ws;
    this.#logger = logger;
    this.#localAddress = localAddress;
    this.#closed = new Promise((resolve) => {
      ws.once('close', (code: number, reason: Buffer) => {
        if (this.#idleTimer !== undefined) clearInterval(this.#idleTimer);
        const text = reason.toString('utf8').slice(0, 200);
        for (const [id, pending] of this.#pending) {
          clearTimeout(pending.timer);
          pending.reject(new ControlError('RP_ERR_DISCONNECTED', `the control connection closed (${code}${text === '' ? '' : ` ${text}`}) before the proxy answered`));
          this.#pending.delete(id);
        }
        this.emit('close', code, text);
        resolve();
      });
    });
    ws.on('error', (error) => this.#logger.debug({ err: error.message }, 'control connection error'));
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    if (idleTimeoutMs > 0) this.#watchIdle(idleTimeoutMs);
  }

  /**
   * Dials the proxy and resolves once the upgrade succeeded with sub-protocol `inteli.v2`.
   *
   * @throws {UpgradeRefusedError} (a {@link ControlError} with the HTTP `status`) `RP_ERR_UNAUTHORIZED`
   * (401), `RP_ERR_FORBIDDEN` (403), `RP_ERR_LIMIT_EXCEEDED` (429), `RP_ERR_SHUTTING_DOWN` (503), or
   * `RP_ERR_DISCONNECTED` for another status.
   * @throws {ControlError} `RP_ERR_DISCONNECTED` when the proxy is unreachable.
   * @throws {TlsError} when the proxy's certificate or pin is not accepted.
   * @throws {TimeoutError} when the handshake takes longer than `handshakeTimeoutMs`.
   */
  static open(options: ControlConnectionOptions): Promise<ControlConnection> {
    const { url, token, verification, handshakeTimeoutMs, idleTimeoutMs, logger, channelProof } = options;
    return new Promise((resolve, reject) => {
      const secure = url.protocol === 'wss:';
      // `closeTimeout` is a ws 8.18+ client option that @types/ws does not list yet.
      const clientOptions: WebSocket.ClientOptions & { closeTimeout: number } = {
        headers: typeof token === 'string' ? { Authorization: `Bearer ${token}` } : {},
        ...finishRequestOption(token, secure, channelProof),
        handshakeTimeout: handshakeTimeoutMs,
        maxPayload: MAX_INCOMING_FRAME_BYTES,
        perMessageDeflate: false,
        followRedirects: false,
        closeTimeout: CONTROL_CLOSE_TIMEOUT_MS,
        // The callback form of `createConnection` is supported by http.request; @types/ws only knows
        // the synchronous net.createConnection signature.
        ...(secure ? { createConnection: createVerifiedConnector(verification, handshakeTimeoutMs) as unknown as typeof createConnection } : {}),
      };
      const ws = new WebSocket(url, SUBPROTOCOL, clientOptions);
      let refusedStatus: number | undefined;
      let localAddress: string | undefined;
      ws.once('upgrade', (response) => {
        // Checked before `open`: nothing is sent to a proxy that did not prove the cluster secret here.
        if (secure && channelProof !== undefined && !channelProof.verifyChannelProof(response.socket as TLSSocket, response.headers[CLUSTER_PROOF_HEADER])) {
          fail(new TlsError(`the proxy at ${url.origin} did not prove the cluster secret on this connection`));
          return;
        }
        const address = response.socket.localAddress;
        localAddress = address?.startsWith('::ffff:') === true ? address.slice(7) : address;
      });
      const fail = (error: Error): void => {
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        ws.terminate();
        reject(error);
      };
      ws.once('unexpected-response', (request, response) => {
        refusedStatus = response.statusCode ?? 0;
        response.resume();
        const code = upgradeRefusal(refusedStatus);
        request.destroy();
        fail(new UpgradeRefusedError(code, refusedStatus, `the proxy refused the connection with HTTP ${refusedStatus}`));
      });
      ws.once('error', (error: Error) => {
        if (refusedStatus !== undefined) return;
        if (error instanceof ProxyError) {
          fail(error);
        } else if (/handshake has timed out/i.test(error.message)) {
          fail(new TimeoutError(`no answer to the control-plane upgrade within ${handshakeTimeoutMs} ms`, { cause: error }));
        } else {
          fail(new ControlError('RP_ERR_DISCONNECTED', `cannot connect to the proxy at ${url.origin}: ${error.message}`, { cause: error }));
        }
      });
      ws.once('open', () => {
        if (ws.protocol !== SUBPROTOCOL) {
          fail(new ControlError('RP_ERR_INVALID_MESSAGE', `the proxy answered with sub-protocol "${ws.protocol}", expected ${SUBPROTOCOL}`));
          return;
        }
        ws.removeAllListeners('error');
        ws.removeAllListeners('unexpected-response');
        ws.removeAllListeners('upgrade');
        resolve(new ControlConnection(ws, idleTimeoutMs, localAddress, logger));
      });
    });
  }

  /** True while frames can be sent. */
  get isOpen(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  /** Local address of the control socket (as the proxy probably sees this host), without an IPv4-mapped prefix. */
  get localAddress(): string | undefined {
    return this.#localAddress;
  }

  /**
   * Sends a request (an `id` is added) and resolves with the `ack`'s `result`.
   *
   * @throws {ControlError} with the proxy's code for an `error` reply, or `RP_ERR_DISCONNECTED`.
   * @throws {TimeoutError} when no reply comes within `timeoutMs`.
   */
  request(frame: { type: string; [field: string]: unknown }, timeoutMs: number): Promise<unknown> {
    const id = `a${++this.#nextId}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new TimeoutError(`the proxy did not answer "${frame.type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.send({ ...frame, id }).catch((error: unknown) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(error as Error);
      });
    });
  }

  /**
   * Sends one frame as JSON; resolves once it is written.
   *
   * @throws {ControlError} `RP_ERR_LIMIT_EXCEEDED` for a frame above 64 KiB (it would close the session),
   * `RP_ERR_DISCONNECTED` when the connection is not open.
   */
  send(frame: object): Promise<void> {
    let text: string;
    try {
      text = JSON.stringify(frame);
    } catch (error) {
      return Promise.reject(new ControlError('RP_ERR_INVALID_MESSAGE', 'the frame is not serializable as JSON', { cause: error }));
    }
    if (Buffer.byteLength(text) > MAX_OUTGOING_FRAME_BYTES) {
      return Promise.reject(new ControlError('RP_ERR_LIMIT_EXCEEDED', `the frame exceeds ${MAX_OUTGOING_FRAME_BYTES} bytes`));
    }
    if (!this.isOpen) return Promise.reject(new ControlError('RP_ERR_DISCONNECTED', 'the control connection is not open'));
    return new Promise((resolve, reject) => {
      this.#ws.send(text, (error) => {
        if (error === undefined || error === null) resolve();
        else reject(new ControlError('RP_ERR_DISCONNECTED', `could not send: ${error.message}`, { cause: error }));
      });
    });
  }

  /** Closes gracefully (the socket is cut if the proxy does not answer in time); resolves when closed. */
  close(code = 1000, reason = ''): Promise<void> {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(code, reason);
    else if (this.#ws.readyState !== WebSocket.CLOSED) this.#ws.terminate();
    return this.#closed;
  }

  /** Cuts the connection at once. */
  terminate(): Promise<void> {
    this.#ws.terminate();
    return this.#closed;
  }

  /**
   * Liveness from the agent's side: any frame, ping or pong counts as a sign of life. After a third of
   * `idleTimeoutMs` of silence the agent pings itself, so the check also works against a proxy whose
   * heartbeat interval is longer than `idleTimeoutMs`; after `idleTimeoutMs` the socket is cut (a
   * half-open TCP connection would otherwise never report the loss) and the owner reconnects.
   */
  #watchIdle(idleTimeoutMs: number): void {
    const seen = (): void => {
      this.#lastSeen = Date.now();
    };
    this.#ws.on('ping', seen);
    this.#ws.on('pong', seen);
    this.#ws.on('message', seen);
    const step = Math.max(1, Math.floor(idleTimeoutMs / 3));
    this.#idleTimer = setInterval(() => {
      const silentMs = Date.now() - this.#lastSeen;
      if (silentMs >= idleTimeoutMs) {
        this.#logger.warn({ idleTimeoutMs }, 'no sign of life from the proxy in time; dropping the connection');
        this.#ws.terminate();
      } else if (silentMs >= step && this.#ws.readyState === WebSocket.OPEN) {
        this.#ws.ping();
      }
    }, step);
  }

  #onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (isBinary) {
      this.#logger.warn('ignoring a binary frame from the proxy');
      return;
    }
    const parsed = parseServerMessage(data.toString());
    if (!parsed.ok) {
      this.#logger.warn({ reason: parsed.reason }, 'ignoring an invalid frame from the proxy');
      return;
    }
    const message = parsed.message;
    if ((message.type === 'ack' || message.type === 'error') && message.id !== undefined) {
      const pending = this.#pending.get(message.id);
      if (pending !== undefined) {
        this.#pending.delete(message.id);
        clearTimeout(pending.timer);
        if (message.type === 'ack') pending.resolve(message.result);
        else pending.reject(new ControlError(message.code, message.message));
        return;
      }
    }
    try {
      this.emit('frame', message);
    } catch (error) {
      this.#logger.error({ err: error }, 'a control frame listener threw');
    }
  }
}
