/**
 * The control plane: a WSS server (own port, default 3042, sub-protocol `inteli.v2`) where agents
 * authenticate with a signed token before the upgrade, register their targets and rules, answer pings,
 * drain and leave; and where admins manage keys. It writes to the {@link BackendRegistry} and never
 * touches the data plane's sockets or pools.
 *
 * Lifecycle: IDLE -> STARTING -> RUNNING -> STOPPING -> STOPPED. `start()` and `stop()` are idempotent
 * (a second call returns the same promise); a stopped control plane cannot be started again (make a new
 * one). `stop()` closes every session with 1001, removes their backends with reason `stopped`, closes the
 * server and clears every timer.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError, NotRunningError, type ErrorCode } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { CloseCode } from '../../shared/protocol.js';
import { isEventName } from '../../shared/protocol-guards.js';
import { drainAgent, undrainAgent } from './admin-drain.js';
import type { Backend, RemovalReason } from '../registry/backend.js';
import type { BackendRegistry } from '../registry/backend-registry.js';
import type { ControlContext } from './control-context.js';
import type { ListenerAddress } from './own-listeners.js';
import { RuleHistory } from './rule-history.js';
import { proxyAudience } from '../../shared/identity/proxy-audience.js';
import { RESTART_ONLY_LIMITS, resolveControlPlaneOptions, resolveLimits, type ControlPlaneLimits, type ControlPlaneOptions, type ResolvedControlPlaneOptions, type ResolvedLimits } from './control-plane-options.js';
import { ControlPlaneCounters, type ControlPlaneStats } from './control-plane-stats.js';
import { createMessageHandler } from './message-handler.js';
import { SessionIndex } from './session-index.js';
import { ControlServer } from './control-server.js';
import type { ControlSocket } from './control-socket.js';
import type { ControlPlaneEvents } from './control-plane-events.js';
import { Session, type SessionInfo } from './session.js';
import { TokenVerifier, type VerifiedIdentity } from './token-verifier.js';
import type { TrustStore } from '../../shared/trust/trust-store.js';
import type { TrustedKey } from '../../shared/trust/trusted-key.js';
import { UpgradeHandler } from './upgrade-handler.js';
import { reservedRules } from './reserved-rules.js';

export type { ControlPlaneOptions, ControlPlaneLimits, ControlPlaneTls } from './control-plane-options.js';
export type { AgentEvent, BackendRejection } from './control-context.js';
export type { Gatekeeper, Registration } from './registration.js';
export type { ControlPlaneStats } from './control-plane-stats.js';
export type { ControlPlaneEvents } from './control-plane-events.js';
export type { SessionInfo, SessionState } from './session.js';

/** Lifecycle state of a {@link ControlPlane}. */
export type ControlPlaneState = 'IDLE' | 'STARTING' | 'RUNNING' | 'STOPPING' | 'STOPPED';

/** The WSS control plane. */
export class ControlPlane extends EventEmitter<ControlPlaneEvents> {
  /** SHA-256 SPKI pin of the control certificate (base64), or undefined without TLS. */
  readonly pin: string | undefined;
  /** The audience tokens must carry: `audience`, or `inteli-proxy:<pin>` (`inteli-proxy` without TLS). */
  readonly audience: string;

  #options: ResolvedControlPlaneOptions;
  readonly #registry: BackendRegistry;
  readonly #trustStore: TrustStore;
  readonly #verifier: TokenVerifier;
  readonly #logger: Logger;
  readonly #sessions = new SessionIndex();
  readonly #counters = new ControlPlaneCounters();
  readonly #server: ControlServer;
  readonly #upgrades: UpgradeHandler;
  readonly #context: ControlContext;
  #state: ControlPlaneState = 'IDLE';
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #address: AddressInfo | undefined;

  readonly #onKeyRemoved = (key: TrustedKey): void => {
    this.#revokeKey(key.id);
  };

  /** Keys changed: the rules their scopes reserve may have too. */
  readonly #onKeysChanged = (): void => {
    try {
      this.#registry.setReserved(reservedRules(this.#trustStore.list()));
    } catch (error) {
      this.#logger.error({ err: error }, 'could not update the reserved rules');
    }
  };

  readonly #onBackendRemoved = (backend: Backend, reason: RemovalReason): void => {
    const session = this.#sessions.byBackend(backend.id);
    if (session === undefined) return;
    this.#sessions.unlinkBackend(backend.id);
    if (session.backendId === backend.id) session.forgetBackend();
    this.#counters.backendRemoved(reason);
    this.#emitSafely('backend_removed', backend, reason);
  };

  /**
   * @throws {InvalidOptionError} for an invalid option (named in the message).
   * @throws {TlsError} when the certificate or key cannot be used.
   */
  constructor(options: ControlPlaneOptions) {
    super();
    this.#options = resolveControlPlaneOptions(options);
    if (typeof options.registry?.add !== 'function') throw new InvalidOptionError('registry: expected a BackendRegistry');
    if (typeof options.trustStore?.get !== 'function') throw new InvalidOptionError('trustStore: expected a TrustStore');
    if (options.whenIdle !== undefined && typeof options.whenIdle !== 'function') {
      throw new InvalidOptionError('whenIdle: expected a function (backendId) => Promise<void>');
    }
    if (options.channelProof !== undefined && typeof options.channelProof !== 'function') {
      throw new InvalidOptionError('channelProof: expected a function (socket, agentProof) => string | undefined');
    }
    if (options.whenRouted !== undefined && typeof options.whenRouted !== 'function') {
      throw new InvalidOptionError('whenRouted: expected a function (backendId) => Promise<void>');
    }
    if (options.ownListeners !== undefined && typeof options.ownListeners !== 'function') {
      throw new InvalidOptionError('ownListeners: expected a function () => { address, port }[]');
    }
    const otherListeners = options.ownListeners ?? ((): readonly ListenerAddress[] => []);
    this.#registry = options.registry;
    this.#trustStore = options.trustStore;
    this.#logger = (options.logger ?? silentLogger()).child({ component: 'control-plane' });
    const { limits } = this.#options;

    this.#server = new ControlServer({ tls: this.#options.tls, limits, closeTimeoutMs: this.#options.closeTimeoutMs, logger: this.#logger });
    this.pin = this.#server.pin;
    this.audience = this.#options.audience ?? proxyAudience(this.pin);
    this.#verifier =
      options.verifier ??
      new TokenVerifier({ trustStore: options.trustStore, audience: this.audience, ...(options.replayCache === undefined ? {} : { replayCache: options.replayCache }) });
    const current = (): ResolvedControlPlaneOptions => this.#options;
    this.#context = {
      registry: this.#registry,
      trustStore: this.#trustStore,
      sessions: this.#sessions,
      // Read per message, so that new limits apply to the next registration.
      get options() {
        return current();
      },
      whenIdle: options.whenIdle ?? (() => Promise.resolve()),
      whenRouted: options.whenRouted,
      // The control plane itself, bound or configured, and whatever the host says it listens on.
      ownListeners: () => {
        const own = this.#state === 'RUNNING' ? this.address : undefined;
        const self: ListenerAddress[] = own === undefined ? [] : [{ address: own.address, port: own.port }];
        if (this.#options.port !== 0) self.push({ address: this.#options.host, port: this.#options.port });
        return [...self, ...otherListeners()];
      },
      logger: this.#logger,
      counters: this.#counters,
      fleet: options.fleet,
      ruleHistory: new RuleHistory(limits.maxDistinctRulesPerKey, limits.distinctRulesWindowMs),
      backendAdded: (backend) => this.#emitSafely('backend_added', backend),
      backendRejected: (rejection) => this.#emitSafely('backend_rejected', rejection),
      agentEvent: (event) => this.#emitSafely('message', event),
      revokeKey: (keyId) => this.#revokeKey(keyId),
      adminDrained: new Set(),
    };
    this.#upgrades = new UpgradeHandler({
      wss: this.#server.wss,
      verifier: this.#verifier,
      audience: this.audience,
      trustStore: this.#trustStore,
      sessions: this.#sessions,
      get limits() {
        return current().limits;
      },
      allowedRoles: this.#options.allowedRoles,
      logger: this.#logger,
      counters: this.#counters,
      isRunning: () => this.#state === 'RUNNING',
      onSession: (ws, identity, remoteAddress) => this.#onSession(ws, identity, remoteAddress),
      onRefused: (identity, code, reason) => this.#refused(identity, code, reason),
      channelProof: options.channelProof,
    });
  }

  /** The resolved limits in force. */
  get limits(): ResolvedLimits {
    return this.#options.limits;
  }

  /**
   * Changes limits on the running control plane; they apply to new sessions, handshakes and
   * registrations. `maxFrameBytes` and `handshakeTimeoutMs` are fixed when the server is built and are
   * kept as they are (a change to them needs a restart).
   *
   * @throws {InvalidOptionError} naming the limit; nothing changes then.
   */
  reconfigureLimits(change: ControlPlaneLimits): void {
    const current = this.#options.limits;
    const pinned = Object.fromEntries(RESTART_ONLY_LIMITS.map((name) => [name, current[name]]));
    const limits = resolveLimits({ ...current, ...change, ...pinned });
    this.#options = Object.freeze({ ...this.#options, limits });
    this.#logger.info({ limits: Object.keys(change) }, 'control-plane limits changed');
  }

  /** Current lifecycle state. */
  get state(): ControlPlaneState {
    return this.#state;
  }

  /**
   * The bound address.
   *
   * @throws {NotRunningError} before `start()` resolved or after `stop()`.
   */
  get address(): AddressInfo {
    if (this.#address === undefined || this.#state !== 'RUNNING') throw new NotRunningError('the control plane is not listening');
    return this.#address;
  }

  /** `wss://host:port` (or `ws://` when insecure) of the bound address. */
  get url(): string {
    const { address, port } = this.address;
    const host = address.includes(':') ? `[${address}]` : address;
    return `${this.pin === undefined ? 'ws' : 'wss'}://${host}:${port}`;
  }

  /** Number of live sessions. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Upgrade requests being authenticated right now. */
  get pendingHandshakes(): number {
    return this.#upgrades.pending;
  }

  /** Counters for metrics, plus the current number of sessions and pending handshakes. */
  stats(): ControlPlaneStats & { sessions: number; pendingHandshakes: number; queuedHandshakes: number } {
    return { ...this.#counters.snapshot(), sessions: this.#sessions.size, pendingHandshakes: this.#upgrades.pending, queuedHandshakes: this.#upgrades.queued };
  }

  /** The live sessions (for status pages). */
  sessions(): SessionInfo[] {
    return this.#sessions.all().map((session) => session.info());
  }

  /**
   * Sends a custom event to every live session of an agent; returns how many got it.
   *
   * @throws {InvalidOptionError} when `name` is not an event name (`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`).
   */
  sendEvent(agentId: string, name: string, data?: unknown): number {
    if (!isEventName(name)) throw new InvalidOptionError(`name: expected an event name of 1 to 64 letters, digits, ".", "_", ":" or "-"`);
    let sent = 0;
    for (const session of this.#sessions.forKey(agentId)) {
      if (session.closing) continue;
      session.send({ type: 'event', name, data });
      sent += 1;
    }
    return sent;
  }

  /**
   * Drains every backend this control plane holds for an agent, as the admin `backends.drain` does: each
   * is marked draining (no new requests; in-flight ones finish) and stays registered, the agent is told
   * by an `inteli:drained-by-admin` event, and backends it registers later start draining too, until
   * {@link ControlPlane.undrainAgent}. Returns the ids of the backends draining (empty when none).
   */
  drainAgent(agentId: string, by = 'api'): string[] {
    return drainAgent(this.#context, agentId, by);
  }

  /**
   * Undoes {@link ControlPlane.drainAgent}: the agent's backends take new requests again (unless their
   * own health check says unhealthy) and the agent is told by an `inteli:undrained-by-admin` event.
   * Returns the ids of the backends routed again (empty when the agent has none).
   */
  undrainAgent(agentId: string, by = 'api'): string[] {
    return undrainAgent(this.#context, agentId, by);
  }

  /**
   * Listens. Resolves once the port is bound.
   *
   * @throws {ListenError} when the port cannot be bound. {@link NotRunningError} after `stop()`.
   */
  start(): Promise<void> {
    if (this.#stopping !== undefined) return Promise.reject(new NotRunningError('a stopped control plane cannot be started again'));
    if (this.#starting !== undefined) return this.#starting;
    if (this.#state !== 'IDLE') return Promise.reject(new NotRunningError('a stopped control plane cannot be started again'));
    this.#state = 'STARTING';
    this.#starting = this.#listen();
    return this.#starting;
  }

  /** Stops: closes sessions (1001), removes their backends (`stopped`), closes the server. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #listen(): Promise<void> {
    this.#trustStore.on('removed', this.#onKeyRemoved);
    this.#trustStore.on('added', this.#onKeysChanged);
    this.#trustStore.on('removed', this.#onKeysChanged);
    this.#onKeysChanged();
    this.#registry.on('removed', this.#onBackendRemoved);
    try {
      this.#address = await this.#server.listen(
        this.#options.port,
        this.#options.host,
        (request, socket, head) => this.#upgrades.handle(request, socket, head),
        (error) => this.#reportError(error),
      );
    } catch (error) {
      this.#trustStore.off('removed', this.#onKeyRemoved);
      this.#trustStore.off('added', this.#onKeysChanged);
      this.#trustStore.off('removed', this.#onKeysChanged);
      this.#registry.off('removed', this.#onBackendRemoved);
      this.#state = 'STOPPED';
      throw error;
    }
    this.#heartbeat = setInterval(() => this.#tick(), this.#options.heartbeatIntervalMs);
    if (this.#stopping !== undefined) return;
    this.#state = 'RUNNING';
    if (this.pin === undefined) {
      this.#logger.warn({ address: this.#address }, 'control plane listening WITHOUT TLS (insecure: true); never use this in production');
    } else {
      this.#logger.info({ address: this.#address, pin: this.pin }, `control plane listening; agents pin sha256/${this.pin}`);
    }
    this.#emitSafely('listening', this.#address);
  }

  async #shutdown(): Promise<void> {
    if (this.#state === 'STARTING') await this.#starting?.catch(() => undefined);
    if (this.#state === 'IDLE' || this.#state === 'STOPPED') {
      this.#state = 'STOPPED';
      return;
    }
    this.#state = 'STOPPING';
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    const serverClosed = this.#server.stopAccepting();
    this.#upgrades.refuseQueued();
    const sessions = this.#sessions.all();
    for (const session of sessions) session.close(CloseCode.GOING_AWAY, 'proxy stopping', 'stopped');
    // ws destroys a socket whose peer does not answer the close within closeTimeoutMs; this bound is a
    // second guard so stop() always finishes.
    let guard: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(sessions.map((session) => session.closed)),
      new Promise<void>((resolve) => {
        guard = setTimeout(resolve, this.#options.closeTimeoutMs + 100);
      }),
    ]);
    clearTimeout(guard);
    for (const session of this.#sessions.all()) session.terminate('stopped');
    await Promise.all(this.#sessions.all().map((session) => session.closed));
    this.#server.destroySockets();
    await serverClosed;
    this.#trustStore.off('removed', this.#onKeyRemoved);
    this.#trustStore.off('added', this.#onKeysChanged);
    this.#trustStore.off('removed', this.#onKeysChanged);
    this.#registry.off('removed', this.#onBackendRemoved);
    this.#state = 'STOPPED';
    this.#logger.info('control plane stopped');
  }

  #onSession(ws: ControlSocket, identity: VerifiedIdentity, remoteAddress: string | undefined): void {
    const session = new Session(ws, {
      identity,
      remoteAddress,
      limits: this.#options.limits,
      missedPongs: this.#options.missedPongs,
      handler: this.#handler,
      logger: this.#logger,
      counters: this.#counters,
    });
    this.#sessions.add(session);
    this.#logger.info({ agentId: identity.id, role: identity.role, fingerprint: identity.fingerprint, session: session.id, remoteAddress }, 'session opened');
    this.#emitSafely('session_opened', session.info());
  }

  readonly #handler = createMessageHandler(() => this.#context, {
    closing: (session, reason) => this.#removeBackendOf(session, reason),
    closed: (session, reason) => {
      this.#removeBackendOf(session, reason);
      this.#sessions.delete(session);
      this.#emitSafely('session_closed', session.info(), reason);
    },
  });

  #removeBackendOf(session: Session, reason: RemovalReason): void {
    const backendId = session.backendId;
    // The registry's `removed` listener unlinks the backend and emits backend_removed.
    if (backendId !== undefined) this.#registry.remove(backendId, reason);
  }

  #revokeKey(keyId: string): number {
    this.#context.ruleHistory.forget(keyId);
    let closed = 0;
    for (const session of this.#sessions.forKey(keyId)) {
      if (session.closing) continue;
      session.close(CloseCode.FORBIDDEN, 'key revoked', 'revoked');
      closed += 1;
    }
    if (closed > 0) this.#logger.warn({ agentId: keyId, closed }, 'key removed; its sessions were closed');
    return closed;
  }

  #refused(identity: VerifiedIdentity, code: ErrorCode, reason: string): void {
    this.#emitSafely('backend_rejected', { agentId: identity.id, code, reason });
  }

  #tick(): void {
    for (const session of this.#sessions.all()) session.heartbeat();
  }

  #reportError(error: Error): void {
    this.#logger.error({ err: error }, 'control plane error');
    if (this.listenerCount('error') > 0) this.#emitSafely('error', error);
  }

  #emitSafely<K extends keyof ControlPlaneEvents>(event: K, ...args: ControlPlaneEvents[K]): void {
    try {
      // The cast is needed because EventEmitter's generic overloads do not accept a spread of K's args.
      (this.emit as (event: K, ...args: ControlPlaneEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.#logger.error({ err: error, event }, 'a control plane event listener threw');
    }
  }
}
