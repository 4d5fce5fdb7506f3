/**
 * `ProxyWebServer`: the agent a web server embeds to join the proxy.
 *
 * `start()` makes the server listen, dials the control plane with a fresh token, registers, and resolves
 * only once the proxy acknowledged (the routes are live). When the connection drops the agent keeps
 * serving and redials with jittered exponential backoff, registering again; the original instead shut
 * its own web server down and never came back. `stop()` drains (the proxy stops routing new requests and
 * answers `drained` once in-flight ones finished), closes the control connection, then closes the server.
 *
 * Reconnect policy on refusals: a revoked or unknown key (close 4003/4001, upgrade 401/403) keeps being
 * retried at the maximum delay, since a sysadmin may re-add the key; each refusal is emitted as `error`.
 * A 4009 (superseded: another session registered the same agent and targets) stops reconnecting, because
 * two agents answering each other's takeovers would flap forever; the server keeps serving.
 */
import { EventEmitter } from 'node:events';
import { ControlError, InvalidOptionError, NotRunningError, isProxyError, type ProxyError } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { CloseCode, type ServerMessage, type TargetSpec } from '../shared/protocol.js';
import { resolveAgentOptions, type ProxyWebServerOptions, type ResolvedAgentOptions } from './agent-options.js';
import { nextBackoffDelay } from './backoff.js';
import { advertisedTarget } from './advertised-target.js';
import type { ControlConnection } from '../shared/control-client/control-connection.js';
import { ControlDialer } from '../shared/control-client/control-dialer.js';
import { drainSession } from './drain-session.js';
import { EVENT_NAME_PATTERN } from '../shared/control-client/server-message.js';
import { closeServer, listenServer } from './server-lifecycle.js';
import { addRouteSettings } from './route-settings.js';
import { adminDrainInfo, type AdminDrainInfo } from './admin-drain-event.js';
import { TargetHealthCheck } from './target-health-check.js';

export type { AdminDrainInfo } from './admin-drain-event.js';

export type { ProxyWebServerOptions } from './agent-options.js';

/** Lifecycle state of a {@link ProxyWebServer}. */
export type AgentState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Events of {@link ProxyWebServer}. */
export interface ProxyWebServerEvents {
  /** The proxy acknowledged a registration (at start and after every reconnect). */
  registered: [info: { target: TargetSpec; result: unknown }];
  /** The control connection dropped while running (the server keeps serving). */
  disconnected: [info: { code: number; reason: string }];
  /** A reconnect is scheduled. `attempt` counts from 1. */
  reconnecting: [info: { attempt: number; delayMs: number }];
  /** A custom event from the proxy. */
  event: [name: string, data: unknown];
  /** An admin drained (`drained: true`) or undrained this agent (`inteli-sysadmin backends drain|undrain`). */
  admin_drain: [info: AdminDrainInfo];
  /** The health check of the target changed its verdict (the proxy is told; unhealthy: no new requests). */
  health: [info: { healthy: boolean; reason: string }];
  /** A refusal or failure while running (never thrown; without a listener it is only logged). */
  error: [error: ProxyError];
}

const REFUSAL_CODES: ReadonlySet<number> = new Set([CloseCode.UNAUTHORIZED, CloseCode.FORBIDDEN]);

/** The agent: registers a web server with the proxy and keeps it registered. */
export class ProxyWebServer extends EventEmitter<ProxyWebServerEvents> {
  readonly #options: ResolvedAgentOptions;
  readonly #logger: Logger;
  #state: AgentState = 'idle';
  readonly #dialer: ControlDialer;
  #connection: ControlConnection | undefined;
  /** The connection whose registration the proxy acknowledged (the current one, when registered). */
  #acknowledged: ControlConnection | undefined;
  #listenedByUs = false;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #reconnectRun: Promise<void> | undefined;
  #startPromise: Promise<void> | undefined;
  #stopPromise: Promise<void> | undefined;
  readonly #health: TargetHealthCheck | undefined;

  /** @throws {InvalidOptionError} | {InvalidIdError} for invalid options (see {@link ProxyWebServerOptions}). */
  constructor(options: ProxyWebServerOptions) {
    super();
    this.#options = resolveAgentOptions(options);
    this.#logger = (options.logger ?? silentLogger()).child({ component: 'agent', agentId: this.#options.agentId });
    this.#dialer = new ControlDialer(this.#options, this.#options.agentId, this.#logger);
    if (this.#options.healthCheck !== undefined) {
      this.#health = new TargetHealthCheck(this.#options.healthCheck, () => this.#healthTarget());
      this.#health.on('change', (healthy, reason) => this.#onHealthChange(healthy, reason));
    }
  }

  /** Current lifecycle state. */
  get state(): AgentState {
    return this.#state;
  }

  /** True while a registration is acknowledged and its connection is open. */
  get registered(): boolean {
    const connection = this.#connection;
    return connection !== undefined && connection === this.#acknowledged && connection.isOpen;
  }

  /**
   * Listens the server (if needed), connects and registers; resolves once the proxy acknowledged.
   * A second call returns the same promise. After a failure the server is closed again if `start()` had
   * opened it, and `start()` may be called again.
   *
   * @throws {ControlError} with the proxy's code (`RP_ERR_OUT_OF_SCOPE`, `RP_ERR_FORBIDDEN`,
   * `RP_ERR_REJECTED`, `RP_ERR_LIMIT_EXCEEDED`, ...), `RP_ERR_UNAUTHORIZED` for a 401 upgrade answer,
   * or `RP_ERR_DISCONNECTED`; {@link TimeoutError}; {@link TlsError}; {@link ListenError};
   * {@link InvalidKeyError}; {@link NotRunningError} after `stop()`.
   */
  start(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      return Promise.reject(new NotRunningError('this ProxyWebServer was stopped; create a new one'));
    }
    if (this.#startPromise !== undefined) return this.#startPromise;
    this.#state = 'starting';
    const run = this.#start().catch(async (error: unknown) => {
      await this.#rollbackStart();
      throw error;
    });
    this.#startPromise = run;
    run.catch(() => {
      if (this.#startPromise === run) this.#startPromise = undefined;
    });
    return run;
  }

  /**
   * Drains, closes the control connection, then closes the server (when `start()` opened it, or
   * `closeServer` is true). Never rejects. A second call returns the same promise.
   */
  stop(): Promise<void> {
    this.#stopPromise ??= this.#stop();
    return this.#stopPromise;
  }

  /**
   * The original API: sends a custom event `{ type: 'event', name: type, data: { action, payload } }`.
   * Resolves once written; events are not queued while disconnected.
   *
   * @throws {InvalidOptionError} when `type` is not a valid event name.
   * @throws {NotRunningError} before `start()` or after `stop()`; {@link ControlError} `RP_ERR_DISCONNECTED`
   * while reconnecting, `RP_ERR_LIMIT_EXCEEDED` above 64 KiB.
   */
  send(type: string, action: string, payload?: unknown): Promise<void> {
    return this.sendEvent(type, { action, payload });
  }

  /** Sends a custom event `{ type: 'event', name, data }`; see {@link ProxyWebServer.send}. */
  async sendEvent(name: string, data?: unknown): Promise<void> {
    if (typeof name !== 'string' || !EVENT_NAME_PATTERN.test(name)) {
      throw new InvalidOptionError(`event name: expected a string matching ${EVENT_NAME_PATTERN.source}`);
    }
    if (this.#state !== 'running') throw new NotRunningError(`cannot send an event while ${this.#state}`);
    const connection = this.#connection;
    if (connection === undefined || !connection.isOpen) throw new ControlError('RP_ERR_DISCONNECTED', 'not connected to the proxy (reconnecting)');
    await connection.send(data === undefined ? { type: 'event', name } : { type: 'event', name, data });
  }

  async #start(): Promise<void> {
    const options = this.#options;
    await this.#dialer.prepare();
    if (options.server !== undefined && !options.server.listening) {
      await listenServer(options.server, options.port, options.host);
      this.#listenedByUs = true;
    }
    // The first verdict is known before registering, so an unhealthy target is never routed to.
    await this.#health?.start();
    await this.#connectAndRegister();
    // When stop() was called meanwhile, the registration stays in place so stop() can drain it.
    if (this.#state === 'starting') this.#state = 'running';
  }

  async #rollbackStart(): Promise<void> {
    this.#health?.stop();
    const connection = this.#connection;
    this.#connection = undefined;
    await connection?.close(CloseCode.NORMAL, 'start failed');
    if (this.#listenedByUs && this.#options.server !== undefined) {
      this.#listenedByUs = false;
      await closeServer(this.#options.server, 0);
    }
    if (this.#state === 'starting') this.#state = 'idle';
  }

  /** Dials, registers and installs the connection; throws when either step fails (the connection is closed). */
  async #connectAndRegister(): Promise<void> {
    const options = this.#options;
    const connection = await this.#dialer.dial();
    this.#connection = connection;
    connection.on('frame', (message) => this.#onFrame(message));
    let target: TargetSpec;
    let result: unknown;
    try {
      const health = this.#health;
      if (health !== undefined && !health.healthy) {
        await connection.request({ type: 'health', healthy: false, reason: health.reason.slice(0, 256) }, options.requestTimeoutMs);
      }
      target = advertisedTarget(options.target, options.server, connection.localAddress);
      const frame: Record<string, unknown> = { type: 'register', targets: [target], rules: options.rules };
      if (options.weight !== undefined) frame.weight = options.weight;
      if (options.meta !== undefined) frame.meta = options.meta;
      addRouteSettings(frame, options.routeSettings);
      result = await connection.request(frame as { type: string }, options.requestTimeoutMs);
      if (!connection.isOpen) throw new ControlError('RP_ERR_DISCONNECTED', 'the control connection closed right after the registration');
    } catch (error) {
      if (this.#connection === connection) this.#connection = undefined;
      await connection.close(CloseCode.NORMAL, 'registration failed');
      throw error;
    }
    this.#acknowledged = connection;
    connection.once('close', (code, reason) => this.#onClose(connection, code, reason));
    this.#logger.info({ target, rules: options.rules }, 'registered with the proxy');
    this.#safeEmit('registered', { target, result });
  }

  #onFrame(message: ServerMessage): void {
    const adminDrain = message.type === 'event' ? adminDrainInfo(message.name, message.data) : undefined;
    if (adminDrain !== undefined) {
      this.#logger.warn({ by: adminDrain.by, backendIds: adminDrain.backendIds }, adminDrain.drained ? 'drained by an admin: no new requests until undrained' : 'undrained by an admin: routed again');
      this.#safeEmit('admin_drain', adminDrain);
    } else if (message.type === 'event') {
      this.#safeEmit('event', message.name, message.data);
    } else if (message.type === 'error') {
      this.#emitError(new ControlError(message.code, `the proxy reported: ${message.message}`));
    }
  }

  #onClose(connection: ControlConnection, code: number, reason: string): void {
    if (this.#connection === connection) this.#connection = undefined;
    if (this.#acknowledged === connection) this.#acknowledged = undefined;
    if (this.#state !== 'running') return;
    this.#logger.warn({ code, reason }, 'control connection lost; the server keeps serving');
    this.#safeEmit('disconnected', { code, reason });
    if (code === CloseCode.SUPERSEDED) {
      this.#emitError(new ControlError('RP_ERR_DISCONNECTED', 'superseded by a newer session of the same agent and targets; not reconnecting'));
      return;
    }
    if (REFUSAL_CODES.has(code)) {
      this.#emitError(new ControlError(code === CloseCode.FORBIDDEN ? 'RP_ERR_FORBIDDEN' : 'RP_ERR_UNAUTHORIZED', `the proxy closed the session (${code} ${reason}); retrying at the maximum delay`));
    }
    this.#scheduleReconnect(REFUSAL_CODES.has(code));
  }

  #scheduleReconnect(refused: boolean): void {
    if (this.#state !== 'running' || this.#reconnectTimer !== undefined) return;
    // A refusal will not heal by retrying quickly; the key has to be re-added, so wait the longest delay.
    const attempt = refused ? Number.MAX_SAFE_INTEGER : this.#attempt;
    this.#attempt += 1;
    const delayMs = nextBackoffDelay(attempt, this.#options.reconnect);
    this.#safeEmit('reconnecting', { attempt: this.#attempt, delayMs });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      const run = this.#reconnect();
      this.#reconnectRun = run;
      void run.finally(() => {
        if (this.#reconnectRun === run) this.#reconnectRun = undefined;
      });
    }, delayMs);
  }

  async #reconnect(): Promise<void> {
    if (this.#state !== 'running') return;
    try {
      await this.#connectAndRegister();
      this.#attempt = 0;
      if (this.#state !== 'running') await this.#connection?.close(CloseCode.NORMAL, 'agent stopping');
    } catch (error) {
      if (this.#state !== 'running') return;
      const refused = isProxyError(error) && !['RP_ERR_DISCONNECTED', 'RP_ERR_TIMEOUT', 'RP_ERR_SHUTTING_DOWN'].includes(error.code);
      if (refused) this.#emitError(error as ProxyError);
      else this.#logger.info({ err: (error as Error).message }, 'reconnect failed');
      this.#scheduleReconnect(refused);
    }
  }

  /** Where the health check connects: the advertised target, else the server's own address. */
  #healthTarget(): { host: string; port: number; protocol: 'http' | 'https' } {
    const target = advertisedTarget(this.#options.target, this.#options.server, '127.0.0.1');
    return { host: target.host, port: target.port, protocol: target.protocol ?? 'http' };
  }

  #onHealthChange(healthy: boolean, reason: string): void {
    if (healthy) this.#logger.info({ reason }, 'target healthy again: asking the proxy to route to it');
    else this.#logger.warn({ reason }, 'target unhealthy: asking the proxy to stop routing to it');
    this.#safeEmit('health', { healthy, reason });
    const connection = this.#connection;
    if (connection === undefined || !connection.isOpen || connection !== this.#acknowledged) return;
    connection.request({ type: 'health', healthy, reason: reason.slice(0, 256) }, this.#options.requestTimeoutMs).catch((error: unknown) => {
      // The next registration (after a reconnect) carries the verdict again.
      this.#logger.info({ err: (error as Error).message }, 'could not report health');
    });
  }

  async #stop(): Promise<void> {
    this.#health?.stop();
    if (this.#state === 'idle') {
      this.#state = 'stopped';
      return;
    }
    const starting = this.#startPromise;
    this.#state = 'stopping';
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    await starting?.catch(() => undefined);
    // A dial in progress finishes (bounded by the handshake and request timeouts) and closes itself.
    await this.#reconnectRun;
    const connection = this.#connection;
    if (connection?.isOpen === true) await drainSession(connection, this.#options, this.#logger);
    this.#connection = undefined;
    await connection?.close(CloseCode.NORMAL, 'agent stopping');
    const server = this.#options.server;
    if (server !== undefined && (this.#options.closeServer ?? this.#listenedByUs)) {
      await closeServer(server, this.#options.closeGraceMs);
    }
    this.#state = 'stopped';
  }

  #emitError(error: ProxyError): void {
    this.#logger.warn({ code: error.code, err: error.message }, 'control-plane error');
    if (this.listenerCount('error') > 0) this.#safeEmit('error', error);
  }

  #safeEmit<K extends keyof ProxyWebServerEvents>(event: K, ...args: ProxyWebServerEvents[K]): void {
    try {
      (this.emit as (name: K, ...rest: ProxyWebServerEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.#logger.error({ err: error, event }, 'a ProxyWebServer listener threw');
    }
  }
}
