/**
 * The HTTP `upgrade` handler: everything that happens before a WebSocket exists (STYLE 9).
 *
 * In order: the control plane must be running (503); a shared trust store must be current (503
 * `RP_ERR_TRUST_STALE`: past its staleness bound it may still hold revoked keys); at most
 * `maxPendingHandshakes` upgrades are being authenticated at once, of which at most
 * `maxPendingUnknownHandshakes` from callers whose token names no trusted key (429: a flood of unknown
 * keys cannot starve the known ones); past that, up to `maxQueuedHandshakes` upgrades of known keys wait
 * in arrival order for a slot (a storm of agents is admitted as fast as it is verified instead of being
 * sent into backoff after paying for its TLS handshake), the others get 429; the request must ask for
 * `websocket` with sub-protocol `inteli.v2`
 * (400); it must carry `Authorization: Bearer <JWT>` that the verifier accepts (401, with the verifier's
 * reason logged, never the token); the key must still be trusted with the same fingerprint once
 * verification finished (401: closes the race with a concurrent removal); the role must be allowed
 * (403); the key must have a free session slot (429). Only then does ws complete the handshake.
 */
import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import { CLUSTER_PROOF_HEADER } from '../../shared/discovery/channel-proof.js';
import type { Duplex } from 'node:stream';
import type { Server as WsServer } from 'ws';
import type { ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { SUBPROTOCOL, type KeyRole } from '../../shared/protocol.js';
import type { ResolvedLimits } from './control-plane-options.js';
import type { ControlPlaneCounters, UpgradeRefusal } from './control-plane-stats.js';
import { claimedKeyId } from './claimed-key-id.js';
import { rejectUpgrade } from './reject-upgrade.js';
import type { SessionIndex } from './session-index.js';
import type { ControlSocket } from './control-socket.js';
import { extractBearer, TokenRejectedError, type TokenVerifier, type VerifiedIdentity } from './token-verifier.js';
import type { TrustStore } from '../../shared/trust/trust-store.js';
import { trustStaleness } from '../../shared/trust/trust-staleness.js';

/** What the upgrade handler needs from its owner. */
export interface UpgradeHandlerOptions {
  readonly wss: WsServer<typeof ControlSocket>;
  readonly verifier: TokenVerifier;
  /** The audience tokens must carry, named in the 401 of a token with another one (it is no secret). */
  readonly audience: string;
  readonly trustStore: TrustStore;
  readonly sessions: SessionIndex;
  readonly limits: ResolvedLimits;
  /** Roles that may open a session (others get 403). */
  readonly allowedRoles: ReadonlySet<KeyRole>;
  readonly logger: Logger;
  readonly counters: ControlPlaneCounters;
  /** True while new sessions are accepted. */
  readonly isRunning: () => boolean;
  /** Called with the new WebSocket and the identity bound to it. */
  readonly onSession: (ws: ControlSocket, identity: VerifiedIdentity, remoteAddress: string | undefined) => void;
  /** Called when an authenticated caller is refused (403/429). */
  readonly onRefused: (identity: VerifiedIdentity, code: ErrorCode, reason: string) => void;
  /** The discovery channel proof (see `ControlPlaneOptions.channelProof`); undefined ignores the header. */
  readonly channelProof?: ((socket: TLSSocket, agentProof: string) => string | undefined) | undefined;
}

/** Parses the `Sec-WebSocket-Protocol` header into its tokens. */
export function offeredProtocols(header: string | string[] | undefined): string[] {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (typeof value !== 'string' || value.length > 1024) return [];
  return value.split(',').map((token) => token.trim()).filter((token) => token.length > 0);
}

/** An upgrade of a known key waiting for a verification slot. */
interface QueuedUpgrade {
  readonly request: IncomingMessage;
  readonly socket: Duplex;
  readonly head: Buffer;
  /** `performance.now()` when it was queued. */
  readonly since: number;
}

/** Authenticates upgrade requests and hands accepted ones to ws. */
export class UpgradeHandler {
  readonly #options: UpgradeHandlerOptions;
  /** Channel-proof answers waiting for ws to write the 101 response (which happens synchronously). */
  readonly #proofAnswers = new WeakMap<IncomingMessage, string>();
  #pending = 0;
  #pendingUnknown = 0;
  /** FIFO of known-key upgrades; `#queueHead` avoids an O(n) shift per admission. */
  #queue: QueuedUpgrade[] = [];
  #queueHead = 0;

  constructor(options: UpgradeHandlerOptions) {
    this.#options = options;
    if (options.channelProof !== undefined) {
      options.wss.on('headers', (headers, request) => {
        const answer = this.#proofAnswers.get(request);
        if (answer !== undefined) headers.push(`${CLUSTER_PROOF_HEADER}: ${answer}`);
      });
    }
  }

  /** Upgrade requests currently being authenticated. */
  get pending(): number {
    return this.#pending;
  }

  /** Upgrade requests of known keys waiting for a verification slot. */
  get queued(): number {
    return this.#queue.length - this.#queueHead;
  }

  /** The `upgrade` event listener. Never throws; every failure answers and destroys the socket. */
  handle(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { limits, logger } = this.#options;
    // The HTTP server removed its own error listener when it emitted `upgrade`; an error on the socket
    // while the token is being verified must not crash the process.
    socket.on('error', (error) => logger.debug({ err: error }, 'upgrade socket error'));
    if (!this.#options.isRunning()) {
      this.#refuse(socket, 'stopping', 503, 'the control plane is stopping');
      return;
    }
    const stale = trustStaleness(this.#options.trustStore);
    if (stale !== undefined) {
      logger.warn({ reason: stale.reason }, 'upgrade refused: the shared trust store is stale');
      // The reason (which may name Redis's address) goes to the log only; the caller is not authenticated.
      this.#refuse(socket, 'trust_stale', 503, 'RP_ERR_TRUST_STALE: the shared trust store is stale; retry later', { 'Retry-After': '5' });
      return;
    }
    // The claimed id is read without verification; it only chooses the budget (see claimed-key-id.ts).
    const claimed = claimedKeyId(request.headers.authorization);
    const unknown = claimed === undefined || this.#options.trustStore.get(claimed) === undefined;
    if (unknown && this.#pendingUnknown >= limits.maxPendingUnknownHandshakes) {
      logger.warn({ pendingUnknown: this.#pendingUnknown }, 'too many pending handshakes of unknown keys; upgrade refused');
      this.#refuse(socket, 'pending_unknown_handshakes', 429, 'too many pending handshakes; retry later', { 'Retry-After': '1' });
      return;
    }
    if (this.#pending >= limits.maxPendingHandshakes) {
      if (!unknown && this.queued < limits.maxQueuedHandshakes) {
        this.#queue.push({ request, socket, head, since: performance.now() });
        return;
      }
      logger.warn({ pending: this.#pending, queued: this.queued }, 'too many pending handshakes; upgrade refused');
      this.#refuse(socket, 'pending_handshakes', 429, 'too many pending handshakes; retry later', { 'Retry-After': '1' });
      return;
    }
    this.#admit(request, socket, head, unknown);
  }

  #admit(request: IncomingMessage, socket: Duplex, head: Buffer, unknown: boolean): void {
    this.#pending += 1;
    if (unknown) this.#pendingUnknown += 1;
    this.#authenticate(request, socket, head)
      .catch((error: unknown) => {
        this.#options.logger.error({ err: error }, 'unexpected error during upgrade');
        this.#refuse(socket, 'internal', 500, 'internal error');
      })
      .finally(() => {
        this.#pending -= 1;
        if (unknown) this.#pendingUnknown -= 1;
        this.#admitQueued();
      });
  }

  /** Answers every queued upgrade with 503 (the control plane is stopping) and empties the queue. */
  refuseQueued(): void {
    const queue = this.#queue.slice(this.#queueHead);
    this.#queue = [];
    this.#queueHead = 0;
    for (const next of queue) if (!next.socket.destroyed) this.#refuse(next.socket, 'stopping', 503, 'the control plane is stopping');
  }

  /** Gives freed slots to the oldest queued upgrades that are still worth verifying. */
  #admitQueued(): void {
    const { limits } = this.#options;
    while (this.#pending < limits.maxPendingHandshakes && this.queued > 0) {
      const next = this.#queue[this.#queueHead]!;
      this.#queueHead += 1;
      if (this.#queueHead === this.#queue.length || this.#queueHead > 1024) {
        this.#queue = this.#queue.slice(this.#queueHead);
        this.#queueHead = 0;
      }
      if (next.socket.destroyed) continue;
      if (!this.#options.isRunning()) {
        this.#refuse(next.socket, 'stopping', 503, 'the control plane is stopping');
      } else if (performance.now() - next.since > limits.handshakeTimeoutMs / 2) {
        // An agent's own handshake timeout is the same 10 s by default: answering 429 at half of it
        // lets the agent retry at once rather than time out and pay for another TLS handshake later.
        this.#refuse(next.socket, 'queued_too_long', 429, 'too many pending handshakes; retry later', { 'Retry-After': '1' });
      } else {
        this.#admit(next.request, next.socket, next.head, false);
      }
    }
  }

  async #authenticate(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { verifier, trustStore, sessions, limits, logger, wss } = this.#options;
    const remoteAddress = request.socket.remoteAddress;
    const upgrade = request.headers.upgrade;
    if (typeof upgrade !== 'string' || upgrade.toLowerCase() !== 'websocket') {
      this.#refuse(socket, 'bad_request', 400, 'only WebSocket upgrades are served here');
      return;
    }
    if (!offeredProtocols(request.headers['sec-websocket-protocol']).includes(SUBPROTOCOL)) {
      logger.info({ remoteAddress }, 'upgrade without the inteli.v2 sub-protocol refused');
      this.#refuse(socket, 'subprotocol', 400, `sub-protocol "${SUBPROTOCOL}" is required`);
      return;
    }
    // The discovery channel proof, when the agent sent one, is checked before the token: an agent that
    // cannot prove the cluster secret on this very TLS connection gets nothing, not even a token check.
    const agentProof = request.headers[CLUSTER_PROOF_HEADER];
    if (agentProof !== undefined && this.#options.channelProof !== undefined) {
      const answer = request.socket instanceof TLSSocket && typeof agentProof === 'string' ? this.#options.channelProof(request.socket, agentProof) : undefined;
      if (answer === undefined) {
        logger.warn({ remoteAddress }, 'upgrade refused: the cluster channel proof does not verify');
        this.#refuse(socket, 'unauthorized', 401, 'unauthorized', {}, 'channel_proof');
        return;
      }
      this.#proofAnswers.set(request, answer);
    }
    const token = extractBearer(request.headers.authorization);
    if (token === undefined) {
      this.#refuse(socket, 'unauthorized', 401, 'missing bearer token', { 'WWW-Authenticate': 'Bearer' }, 'missing');
      return;
    }
    let identity: VerifiedIdentity;
    try {
      identity = await verifier.verify(token);
    } catch (error) {
      const reason = error instanceof TokenRejectedError ? error.reason : 'malformed';
      logger.warn({ remoteAddress, reason }, 'upgrade refused: unauthorized');
      // A client with a fixed audience learns the one to use (the pin it names is public anyway).
      const challenge =
        reason === 'audience'
          ? `Bearer error="invalid_token", error_description="wrong audience", audience="${this.#options.audience.replace(/[^\x20-\x7e]|["\\]/g, '')}"`
          : 'Bearer error="invalid_token"';
      this.#refuse(socket, 'unauthorized', 401, 'unauthorized', { 'WWW-Authenticate': challenge }, reason);
      return;
    }
    if (socket.destroyed) return;
    if (!this.#options.isRunning()) {
      this.#refuse(socket, 'stopping', 503, 'the control plane is stopping');
      return;
    }
    if (trustStore.get(identity.id)?.fingerprint !== identity.fingerprint) {
      logger.warn({ agentId: identity.id, reason: 'revoked' }, 'upgrade refused: key removed during verification');
      this.#refuse(socket, 'revoked', 401, 'unauthorized', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
      return;
    }
    if (!this.#options.allowedRoles.has(identity.role)) {
      logger.warn({ agentId: identity.id, role: identity.role }, 'upgrade refused: role not allowed');
      this.#options.onRefused(identity, 'RP_ERR_FORBIDDEN', `role "${identity.role}" may not open a control session`);
      this.#refuse(socket, 'forbidden', 403, 'this key may not open a control session');
      return;
    }
    if (sessions.countForKey(identity.id) >= limits.maxSessionsPerKey) {
      const reason = `key "${identity.id}" already has ${limits.maxSessionsPerKey} sessions`;
      logger.warn({ agentId: identity.id }, 'upgrade refused: sessions per key exceeded');
      this.#options.onRefused(identity, 'RP_ERR_LIMIT_EXCEEDED', reason);
      this.#refuse(socket, 'sessions_per_key', 429, reason, { 'Retry-After': '5' });
      return;
    }
    sessions.reserve(identity.id);
    try {
      // Without async verifyClient or extensions, ws completes the handshake synchronously; the
      // reservation covers it either way and is released right after.
      wss.handleUpgrade(request, socket, head, (ws) => {
        this.#options.counters.upgradeAccepted();
        this.#options.onSession(ws, identity, remoteAddress);
      });
    } finally {
      sessions.release(identity.id);
    }
  }

  #refuse(socket: Duplex, reason: UpgradeRefusal, status: number, body: string, headers?: Record<string, string>, tokenReason?: string): void {
    this.#options.counters.upgradeRefused(reason, tokenReason);
    rejectUpgrade(socket, status, body, headers);
  }
}
