/**
 * One authenticated control connection. The identity was verified before the upgrade and is bound to
 * the connection for its whole life; frames carry no credentials.
 *
 * State machine (explicit, one direction only):
 *
 *     AUTHENTICATED --register--> REGISTERED --drain--> DRAINING
 *           |                         |                     |
 *           +-------------------------+---------------------+--> CLOSED
 *
 * The session owns the transport concerns: frame size (enforced by ws, mapped to 4008), the per-session
 * token bucket (4008), invalid frames (error reply, then 4002), the registration deadline (4008), the
 * heartbeat (terminate after `missedPongs` unanswered pings) and a bound on bytes queued to a slow reader
 * (4008). What a message means is decided by a {@link SessionHandler}; requests of one session are handled
 * one at a time, in order, so a session can never race itself (two registers, register and drain).
 */
import WebSocket from 'ws';
import type { RawData } from 'ws';
import { ProxyError, isProxyError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { CloseCode, type ClientMessage, type ServerMessage } from '../../shared/protocol.js';
import { isAdminMessage, parseClientMessage } from '../../shared/protocol-guards.js';
import type { RemovalReason } from '../registry/backend.js';
import type { ResolvedLimits } from './control-plane-options.js';
import type { ControlPlaneCounters, LimitBreach } from './control-plane-stats.js';
import { TokenBucket, type MonotonicClock } from './token-bucket.js';
import type { VerifiedIdentity } from './token-verifier.js';

/** Lifecycle state of a {@link Session}. */
export type SessionState = 'AUTHENTICATED' | 'REGISTERED' | 'DRAINING' | 'CLOSED';

/** A session as status pages and events show it: plain data. */
export interface SessionInfo {
  /** Process-unique session id. */
  readonly id: string;
  /** The authenticated key id. */
  readonly agentId: string;
  readonly role: VerifiedIdentity['role'];
  /** Thumbprint of the key. */
  readonly fingerprint: string;
  readonly state: SessionState;
  /** Peer address as the proxy sees it. */
  readonly remoteAddress: string | undefined;
  /** Registry id of the session's backend, if registered. */
  readonly backendId: string | undefined;
}

/** What a session delegates to its owner. Neither method may throw out (errors are caught and logged). */
export interface SessionHandler {
  /** Handles one valid request; the resolved value is the `ack` result, a rejection the `error` reply. */
  handle(session: Session, message: ClientMessage): Promise<unknown>;
  /** Runs after the `ack` of `message` was queued, for work that must follow the ack (drain). */
  acknowledged(session: Session, message: ClientMessage): void;
  /**
   * The proxy started closing the session with `reason`: its backend leaves the registry now, not
   * after the close handshake, so a revoked, superseded or misbehaving agent gets no further request.
   */
  closing(session: Session, reason: RemovalReason): void;
  /** The session closed; `reason` says why (its backend, if any, is to be removed with it). */
  closed(session: Session, reason: RemovalReason): void;
}

/** Construction options of a {@link Session}. */
export interface SessionOptions {
  readonly identity: VerifiedIdentity;
  readonly remoteAddress: string | undefined;
  readonly limits: ResolvedLimits;
  readonly missedPongs: number;
  readonly handler: SessionHandler;
  readonly logger: Logger;
  readonly counters: ControlPlaneCounters;
  /** Clock for the token bucket. Default `performance.now`. */
  readonly now?: MonotonicClock;
}

let nextSessionNumber = 0;

/** An authenticated control-plane connection. */
export class Session {
  /** Process-unique session id, for logs. */
  readonly id: string;
  /** Who is on the other end (verified before the upgrade). */
  readonly identity: VerifiedIdentity;
  /** Address of the peer's socket as the proxy sees it. */
  readonly remoteAddress: string | undefined;
  /** Resolves once the connection is closed and the handler has been told. */
  readonly closed: Promise<void>;
  /**
   * The agent's last health report of its target (`health` frames; true until one says otherwise). It
   * belongs to the session, so a re-registration on the same session keeps it.
   */
  healthy = true;

  readonly #ws: WebSocket;
  readonly #limits: ResolvedLimits;
  readonly #missedPongs: number;
  readonly #handler: SessionHandler;
  readonly #logger: Logger;
  readonly #counters: ControlPlaneCounters;
  readonly #bucket: TokenBucket;
  #state: SessionState = 'AUTHENTICATED';
  #backendId: string | undefined;
  #targetKey: string | undefined;
  #closeReason: RemovalReason | undefined;
  #invalidFrames = 0;
  #unansweredPings = 0;
  #registerTimer: NodeJS.Timeout | undefined;
  #queue: Promise<void> = Promise.resolve();
  #resolveClosed!: () => void;

  constructor(ws: WebSocket, options: SessionOptions) {
    nextSessionNumber += 1;
    this.id = `s${nextSessionNumber}`;
    this.#ws = ws;
    this.identity = options.identity;
    this.remoteAddress = options.remoteAddress;
    this.#limits = options.limits;
    this.#missedPongs = options.missedPongs;
    this.#handler = options.handler;
    this.#logger = options.logger.child({ agentId: options.identity.id, session: this.id });
    this.#counters = options.counters;
    // Admin sessions have their own budget: a key import sends batches faster than any agent needs to.
    const admin = options.identity.role === 'admin';
    this.#bucket = admin
      ? new TokenBucket(options.limits.adminMessagesPerSecond, options.limits.adminBurst, options.now)
      : new TokenBucket(options.limits.messagesPerSecond, options.limits.burst, options.now);
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('pong', () => {
      this.#unansweredPings = 0;
    });
    ws.on('error', (error) => this.#onError(error));
    ws.on('close', (code) => this.#onClose(code));
    // Admin sessions do short request/response exchanges and never register; only agents get a deadline.
    if (options.identity.role === 'agent') {
      this.#registerTimer = setTimeout(() => {
        if (this.#state === 'AUTHENTICATED') this.#breach('register_deadline', 'registration deadline exceeded', 'timeout');
      }, options.limits.registerTimeoutMs);
    }
  }

  /** Current state. */
  get state(): SessionState {
    return this.#state;
  }

  /** Registry id of the backend this session registered, if any. */
  get backendId(): string | undefined {
    return this.#backendId;
  }

  /** Key of the registered target set (see `targetSetKey`), if registered. */
  get targetKey(): string | undefined {
    return this.#targetKey;
  }

  /** True once a close has been initiated (by either side) or completed. */
  get closing(): boolean {
    return this.#closeReason !== undefined || this.#state === 'CLOSED';
  }

  /** A plain-data snapshot of the session. */
  info(): SessionInfo {
    return {
      id: this.id,
      agentId: this.identity.id,
      role: this.identity.role,
      fingerprint: this.identity.fingerprint,
      state: this.#state,
      remoteAddress: this.remoteAddress,
      backendId: this.#backendId,
    };
  }

  /** Records a registration (or a replacement of it): AUTHENTICATED/REGISTERED -> REGISTERED. */
  markRegistered(backendId: string, targetKey: string): void {
    if (this.#state !== 'AUTHENTICATED' && this.#state !== 'REGISTERED') {
      throw new ProxyError('RP_ERR_INVALID_MESSAGE', `cannot register in state ${this.#state}`);
    }
    clearTimeout(this.#registerTimer);
    this.#registerTimer = undefined;
    this.#state = 'REGISTERED';
    this.#backendId = backendId;
    this.#targetKey = targetKey;
  }

  /** REGISTERED -> DRAINING. */
  markDraining(): void {
    if (this.#state !== 'REGISTERED') throw new ProxyError('RP_ERR_INVALID_MESSAGE', `cannot drain in state ${this.#state}`);
    this.#state = 'DRAINING';
  }

  /** Forgets the backend (it left the registry); the session itself stays open. */
  forgetBackend(): void {
    this.#backendId = undefined;
  }

  /** Sends a frame; a peer that does not read is closed with 4008 instead of buffering without bound. */
  send(message: ServerMessage): void {
    if (this.closing || this.#ws.readyState !== WebSocket.OPEN) return;
    if (this.#ws.bufferedAmount > this.#limits.maxBufferedBytes) {
      this.#breach('slow_reader', 'peer is not reading', 'error');
      return;
    }
    this.#ws.send(JSON.stringify(message), (error) => {
      if (error !== undefined && error !== null) this.#logger.debug({ err: error }, 'send failed');
    });
  }

  /** Sends an `error` reply. */
  sendError(code: ErrorCode, message: string, id?: string): void {
    this.send(id === undefined ? { type: 'error', code, message } : { type: 'error', id, code, message });
  }

  /**
   * Starts a close handshake with `code`; the backend will be removed with `reason`. The first reason
   * wins. ws destroys the socket if the peer does not answer within its close timeout.
   */
  close(code: number, message: string, reason: RemovalReason): void {
    if (this.closing) return;
    this.#closeReason = reason;
    this.#logger.info({ code, reason, message }, 'closing session');
    clearTimeout(this.#registerTimer);
    this.#release(reason);
    try {
      this.#ws.close(code, message);
    } catch (error) {
      this.#logger.debug({ err: error }, 'close failed; terminating');
      this.#ws.terminate();
    }
  }

  /** Destroys the connection without a close handshake. */
  terminate(reason: RemovalReason): void {
    if (this.#state === 'CLOSED') return;
    this.#closeReason ??= reason;
    this.#release(this.#closeReason);
    this.#ws.terminate();
  }

  /**
   * One heartbeat tick: evicts the session when `missedPongs` pings went unanswered, else pings.
   * Called by the control plane's single heartbeat timer.
   */
  heartbeat(): void {
    // A session already closing (evicted at the previous tick, its socket not yet gone) is neither
    // pinged nor evicted, and so counted, twice.
    if (this.closing) return;
    if (this.#unansweredPings >= this.#missedPongs) {
      this.#logger.warn({ missedPongs: this.#unansweredPings }, 'heartbeat lost; evicting session');
      this.#counters.evicted();
      this.terminate('timeout');
      return;
    }
    this.#unansweredPings += 1;
    try {
      this.#ws.ping();
    } catch (error) {
      this.#logger.debug({ err: error }, 'ping failed');
    }
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    if (!this.#bucket.take()) {
      this.#breach('rate', 'message rate limit exceeded', 'error');
      return;
    }
    if (isBinary) {
      this.#invalid(undefined, 'binary frames are not part of the protocol; send JSON text');
      return;
    }
    // ws delivers a Buffer (binaryType 'nodebuffer', fragments already joined); the other shapes are
    // handled for completeness.
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data).toString('utf8');
    const parsed = parseClientMessage(text);
    if (!parsed.ok) {
      this.#invalid(parsed.id, parsed.reason);
      return;
    }
    const message = parsed.message;
    if (isAdminMessage(message) && this.identity.role !== 'admin') {
      this.#logger.warn({ type: message.type }, 'admin message from a non-admin key refused');
      this.sendError('RP_ERR_FORBIDDEN', `"${message.type}" needs an admin key`, message.id);
      return;
    }
    this.#queue = this.#queue.then(() => this.#dispatch(message));
  }

  async #dispatch(message: ClientMessage): Promise<void> {
    if (this.#state === 'CLOSED') return;
    try {
      const result = await this.#handler.handle(this, message);
      if (message.id !== undefined) this.send(result === undefined ? { type: 'ack', id: message.id } : { type: 'ack', id: message.id, result });
    } catch (error) {
      this.#replyError(message, error);
      return;
    }
    try {
      this.#handler.acknowledged(this, message);
    } catch (error) {
      this.#logger.error({ err: error, type: message.type }, 'unexpected error after an ack');
    }
  }

  #replyError(message: ClientMessage, error: unknown): void {
    if (isProxyError(error)) {
      this.sendError(error.code, error.message, message.id);
    } else {
      this.#logger.error({ err: error, type: message.type }, 'unexpected error handling a message');
      this.sendError('RP_ERR_INTERNAL', 'internal error', message.id);
    }
  }

  #invalid(id: string | undefined, reason: string): void {
    this.#invalidFrames += 1;
    this.#logger.debug({ reason, invalidFrames: this.#invalidFrames }, 'invalid frame');
    if (this.#invalidFrames > this.#limits.maxInvalidFrames) {
      this.#counters.limitBreached('invalid_frames');
      this.close(CloseCode.PROTOCOL_ERROR, 'too many invalid frames', 'error');
      return;
    }
    this.sendError('RP_ERR_INVALID_MESSAGE', reason, id);
  }

  #onError(error: Error & { code?: string }): void {
    if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      this.#counters.limitBreached('frame_size');
      this.#logger.warn({ maxFrameBytes: this.#limits.maxFrameBytes }, 'frame too large; session closed with 4008');
    } else {
      this.#logger.warn({ err: error }, 'control connection error');
    }
    // ws closes (or destroys) the connection itself after an error; the backend leaves right away.
    if (this.#closeReason === undefined) {
      this.#closeReason = 'error';
      this.#release('error');
    }
  }

  #breach(limit: LimitBreach, message: string, reason: RemovalReason): void {
    this.#counters.limitBreached(limit);
    this.close(CloseCode.LIMIT_EXCEEDED, message, reason);
  }

  #release(reason: RemovalReason): void {
    try {
      this.#handler.closing(this, reason);
    } catch (error) {
      this.#logger.error({ err: error }, 'session closing handler threw');
    }
  }

  #onClose(code: number): void {
    if (this.#state === 'CLOSED') return;
    this.#state = 'CLOSED';
    clearTimeout(this.#registerTimer);
    this.#registerTimer = undefined;
    const reason = this.#closeReason ?? 'left';
    this.#closeReason = reason;
    this.#logger.info({ code, reason }, 'session closed');
    try {
      this.#handler.closed(this, reason);
    } catch (error) {
      this.#logger.error({ err: error }, 'session close handler threw');
    }
    this.#resolveClosed();
  }
}
