/**
 * `ProxyLink`: the agent's session with ONE proxy. It dials with a fresh token, registers, and keeps the
 * registration alive on its own: its own backoff, its own liveness (the connection's idle watchdog) and
 * its own registration, so a proxy that dies or restarts affects only its link. `ProxyWebServer`
 * composes one link per proxy and may add or remove links at run time (discovery).
 *
 * One retry policy for the first registration and for reconnects (see `failure-kind.ts`): a transient
 * failure (429, 503, unreachable, timeout) is retried with jittered exponential backoff and reported as
 * `retrying`. A refusal (401, 403, scope, gatekeeper, TLS pin) rejects `open()` while the link is
 * `failFast` and has never registered; afterwards it is reported as an error and retried at the maximum
 * delay, since a sysadmin may re-add the key. A 4009 (superseded: another session registered the same
 * agent and targets) stops the link, because two agents answering each other's takeovers would flap.
 *
 * With a health check, the link tells its proxy the target's verdict: `reportHealth()` on a transition,
 * and before every (re)registration while the target is unhealthy, so a proxy that (re)learns of the
 * agent never routes to a dead target.
 */
import { ControlError, NotRunningError, type ProxyError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { CloseCode, type ServerMessage, type TargetSpec } from '../shared/protocol.js';
import type { ControlConnection } from '../shared/control-client/control-connection.js';
import { ControlDialer } from '../shared/control-client/control-dialer.js';
import type { ResolvedAgentOptions } from './agent-options.js';
import { nextBackoffDelay } from './backoff.js';
import { drainSession } from './drain-session.js';
import { asProxyError, failureKind } from './failure-kind.js';
import type { ResolvedProxyEndpoint } from './proxy-endpoints.js';
import { registrationFrame } from './registration-frame.js';

/** What a link reports to its owner. Implementations must not throw. */
export interface ProxyLinkListener {
  /** The proxy acknowledged a registration (the first one and after every reconnect). */
  registered(link: ProxyLink, info: { target: TargetSpec; result: unknown }): void;
  /** The registered connection dropped (the web server keeps serving). */
  disconnected(link: ProxyLink, info: { code: number; reason: string }): void;
  /** A reconnect is scheduled after a registration was lost. `attempt` counts from 1. */
  reconnecting(link: ProxyLink, info: { attempt: number; delayMs: number }): void;
  /** An attempt failed and another one is scheduled (first registration or reconnect). */
  retrying(link: ProxyLink, info: { attempt: number; delayMs: number; error: ProxyError }): void;
  /** A custom event from this proxy. */
  event(link: ProxyLink, name: string, data: unknown): void;
  /** A refusal or failure that is not thrown (while running). */
  error(link: ProxyLink, error: ProxyError): void;
}

/** The health check's current verdict, as a link reads it (see `target-health-check.ts`). */
export interface HealthVerdict {
  readonly healthy: boolean;
  readonly reason: string;
}

/** Longest `reason` of a `health` frame. */
const MAX_HEALTH_REASON = 256;

/** Close codes after which retrying quickly is pointless: the key has to be re-added first. */
const REFUSAL_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.UNAUTHORIZED, CloseCode.FORBIDDEN]);

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
  settled: boolean;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // The owner may never wait on it (a link added at run time); a rejection must not be "unhandled".
  promise.catch(() => undefined);
  const state: Deferred = {
    promise,
    settled: false,
    resolve: () => {
      state.settled = true;
      resolve();
    },
    reject: (error) => {
      state.settled = true;
      reject(error);
    },
  };
  return state;
}

/** One proxy's session of an agent. */
export class ProxyLink {
  /** The proxy this link registers with. */
  readonly endpoint: ResolvedProxyEndpoint;
  readonly #options: ResolvedAgentOptions;
  readonly #listener: ProxyLinkListener;
  readonly #logger: Logger;
  readonly #dialer: ControlDialer;
  readonly #health: HealthVerdict | undefined;
  readonly #first = deferred();
  #prepared = false;
  #opened = false;
  #failFast = true;
  #closing = false;
  #superseded = false;
  #connection: ControlConnection | undefined;
  /** The connection whose registration the proxy acknowledged (the current one, when registered). */
  #acknowledged: ControlConnection | undefined;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #run: Promise<void> | undefined;
  #lastError: ProxyError | undefined;
  #closePromise: Promise<void> | undefined;

  /** @param health the target's health check, read at every registration; undefined when there is none. */
  constructor(endpoint: ResolvedProxyEndpoint, options: ResolvedAgentOptions, listener: ProxyLinkListener, logger: Logger, health?: HealthVerdict) {
    this.endpoint = endpoint;
    this.#health = health;
    this.#options = options;
    this.#listener = listener;
    this.#logger = logger.child({ proxyUrl: endpoint.proxyUrl });
    this.#dialer = new ControlDialer(endpoint.connection, options.agentId, this.#logger);
  }

  /** The proxy's URL as it was given. */
  get proxyUrl(): string {
    return this.endpoint.proxyUrl;
  }

  /** True while a registration is acknowledged and its connection is open. */
  get registered(): boolean {
    const connection = this.#connection;
    return connection !== undefined && connection === this.#acknowledged && connection.isOpen;
  }

  /** The registered, open connection, if any (custom events go there). */
  get connection(): ControlConnection | undefined {
    return this.registered ? this.#connection : undefined;
  }

  /** The last failure since the last successful registration, if any. */
  get lastError(): ProxyError | undefined {
    return this.#lastError;
  }

  /**
   * While true (the default), a refusal before the first registration rejects `open()` and stops the
   * link; once false, it is reported as an error and retried at the maximum delay.
   */
  set failFast(value: boolean) {
    this.#failFast = value;
  }

  /**
   * Tells this proxy the target's new health verdict when the link is registered; otherwise the next
   * registration carries it. Never rejects: a failure is logged (the next registration reports again).
   */
  reportHealth(healthy: boolean, reason: string): void {
    const connection = this.connection;
    if (connection === undefined) return;
    this.#sendHealth(connection, healthy, reason).catch((error: unknown) => {
      this.#logger.info({ err: (error as Error).message }, 'could not report health');
    });
  }

  /**
   * Starts dialing (once; later calls return the same promise). Resolves at the first acknowledged
   * registration; rejects with the refusal while `failFast`, or {@link NotRunningError} when the link
   * is closed first. Transient failures never reject: they are retried.
   */
  open(failFast = true): Promise<void> {
    if (this.#closing) return Promise.reject(new NotRunningError(`the session with ${this.proxyUrl} was closed`));
    if (!this.#opened) {
      this.#opened = true;
      this.#failFast = failFast;
      this.#attemptNow();
    }
    return this.#first.promise;
  }

  /**
   * Stops retrying; an attempt in flight finishes first (bounded by the handshake and request timeouts).
   * With `drain`, a registered session is drained before it closes. Never rejects; idempotent.
   */
  close(drain: boolean): Promise<void> {
    this.#closePromise ??= this.#close(drain);
    return this.#closePromise;
  }

  #attemptNow(): void {
    const run = this.#tryOnce();
    this.#run = run;
    void run.finally(() => {
      if (this.#run === run) this.#run = undefined;
    });
  }

  async #tryOnce(): Promise<void> {
    if (this.#closing) return;
    try {
      if (!this.#prepared) {
        await this.#dialer.prepare();
        this.#prepared = true;
      }
      await this.#connectAndRegister();
    } catch (error) {
      this.#failed(error);
      return;
    }
    this.#attempt = 0;
    this.#lastError = undefined;
    this.#first.resolve();
  }

  /** Dials, registers and installs the connection; throws when either step fails (the connection is closed). */
  async #connectAndRegister(): Promise<void> {
    const connection = await this.#dialer.dial();
    this.#connection = connection;
    connection.on('frame', (message) => this.#onFrame(message));
    let target: TargetSpec;
    let result: unknown;
    let sentHealthy = true;
    try {
      const health = this.#health;
      // The verdict goes first, so the registration is never routed while the target is unhealthy.
      if (health !== undefined && !health.healthy) {
        sentHealthy = false;
        await this.#sendHealth(connection, false, health.reason);
      }
      const frame = registrationFrame(this.#options, connection.localAddress);
      [target] = frame.targets as [TargetSpec];
      result = await connection.request(frame, this.#options.requestTimeoutMs);
      if (!connection.isOpen) throw new ControlError('RP_ERR_DISCONNECTED', 'the control connection closed right after the registration');
    } catch (error) {
      if (this.#connection === connection) this.#connection = undefined;
      await connection.close(CloseCode.NORMAL, 'registration failed');
      throw error;
    }
    this.#acknowledged = connection;
    connection.once('close', (code, reason) => this.#onClose(connection, code, reason));
    this.#logger.info({ target, rules: this.#options.rules }, 'registered with the proxy');
    this.#listener.registered(this, { target, result });
    // A transition during the registration found the link unregistered and was not sent: send it now.
    const health = this.#health;
    if (health !== undefined && health.healthy !== sentHealthy) this.reportHealth(health.healthy, health.reason);
  }

  #sendHealth(connection: ControlConnection, healthy: boolean, reason: string): Promise<unknown> {
    return connection.request({ type: 'health', healthy, reason: reason.slice(0, MAX_HEALTH_REASON) }, this.#options.requestTimeoutMs);
  }

  #failed(error: unknown): void {
    if (this.#closing) return;
    const failure = asProxyError(error);
    this.#lastError = failure;
    const kind = failureKind(failure);
    if (kind === 'refused' && this.#failFast && !this.#first.settled) {
      this.#logger.warn({ code: failure.code, err: failure.message }, 'the proxy refused the registration');
      this.#first.reject(failure);
      return;
    }
    if (kind === 'refused') this.#listener.error(this, failure);
    else this.#logger.info({ code: failure.code, err: failure.message }, 'attempt failed; retrying');
    this.#schedule(kind === 'refused', failure);
  }

  #onFrame(message: ServerMessage): void {
    if (message.type === 'event') this.#listener.event(this, message.name, message.data);
    else if (message.type === 'error') this.#listener.error(this, new ControlError(message.code, `the proxy reported: ${message.message}`));
  }

  #onClose(connection: ControlConnection, code: number, reason: string): void {
    if (this.#connection === connection) this.#connection = undefined;
    if (this.#acknowledged === connection) this.#acknowledged = undefined;
    if (this.#closing) return;
    this.#logger.warn({ code, reason }, 'control connection lost; the server keeps serving');
    this.#listener.disconnected(this, { code, reason });
    if (code === CloseCode.SUPERSEDED) {
      this.#superseded = true;
      this.#listener.error(this, new ControlError('RP_ERR_DISCONNECTED', 'superseded by a newer session of the same agent and targets; not reconnecting'));
      return;
    }
    const refused = REFUSAL_CLOSE_CODES.has(code);
    if (refused) {
      const error = new ControlError(code === CloseCode.FORBIDDEN ? 'RP_ERR_FORBIDDEN' : 'RP_ERR_UNAUTHORIZED', `the proxy closed the session (${code} ${reason}); retrying at the maximum delay`);
      this.#lastError = error;
      this.#listener.error(this, error);
    }
    this.#schedule(refused, undefined);
  }

  #schedule(refused: boolean, failure: ProxyError | undefined): void {
    if (this.#closing || this.#superseded || this.#timer !== undefined) return;
    // A refusal will not heal by retrying quickly; the key has to be re-added, so wait the longest delay.
    const attempt = refused ? Number.MAX_SAFE_INTEGER : this.#attempt;
    this.#attempt += 1;
    const delayMs = nextBackoffDelay(attempt, this.#options.reconnect);
    if (failure !== undefined) this.#listener.retrying(this, { attempt: this.#attempt, delayMs, error: failure });
    if (this.#first.settled) this.#listener.reconnecting(this, { attempt: this.#attempt, delayMs });
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#attemptNow();
    }, delayMs);
  }

  async #close(drain: boolean): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // A dial in progress finishes (bounded by the handshake and request timeouts); when it registered,
    // the registration is drained below like any other.
    await this.#run;
    if (!this.#first.settled) this.#first.reject(new NotRunningError(`stopped before ${this.proxyUrl} acknowledged the registration`));
    const connection = this.#connection;
    this.#connection = undefined;
    if (drain && connection?.isOpen === true && connection === this.#acknowledged) await drainSession(connection, this.#options, this.#logger);
    await connection?.close(CloseCode.NORMAL, drain ? 'agent stopping' : 'start failed');
  }
}
