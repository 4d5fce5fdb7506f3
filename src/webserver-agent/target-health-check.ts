/**
 * The agent's active health check of its target: a TCP connect by default, or an HTTP GET of `path`
 * expecting `expectStatus`, or a function of the application's. It runs every `intervalMs`; after
 * `unhealthyThreshold` failures in a row the target is unhealthy, after `healthyThreshold` successes in a
 * row healthy again, and each transition is emitted once (`change`). With the defaults (one failure) an
 * unhealthy target is reported within one interval plus the check's timeout.
 *
 * HTTP checks of an `https` target do not verify its certificate: they ask whether the server answers,
 * not who it is (the target is this agent's own server, often with a self-signed certificate).
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { InvalidOptionError } from '../shared/errors.js';
import { integerOption as integer } from '../shared/control-client/client-options.js';

/** Default interval between checks, in ms. */
export const DEFAULT_HEALTH_INTERVAL_MS = 2000;
/** Default bound on one check, in ms. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 1000;
/** Default failures in a row that make the target unhealthy. */
export const DEFAULT_UNHEALTHY_THRESHOLD = 1;
/** Default successes in a row that make it healthy again. */
export const DEFAULT_HEALTHY_THRESHOLD = 1;
/** Default status an HTTP check expects. */
export const DEFAULT_EXPECT_STATUS = 200;

/** A check of the application's: resolves (or returns) true when the target is healthy. */
export type HealthCheckFunction = () => boolean | Promise<boolean>;

/** Options of a health check. */
export interface HealthCheckOptions {
  /** HTTP path to GET (`/healthz`); default none: a TCP connect. */
  path?: string;
  /** Status the HTTP check expects, 100 to 599. Default 200. */
  expectStatus?: number;
  /** Interval between checks, in ms, 50 to 3600000. Default 2000. */
  intervalMs?: number;
  /** Bound on one check, in ms, 10 to 600000. Default 1000 (and at most the interval). */
  timeoutMs?: number;
  /** Failures in a row that make the target unhealthy, 1 to 100. Default 1. */
  unhealthyThreshold?: number;
  /** Successes in a row that make it healthy again, 1 to 100. Default 1. */
  healthyThreshold?: number;
  /** A check of the application's instead of TCP/HTTP. */
  check?: HealthCheckFunction;
}

/** `true` (TCP check with defaults), options, or a check function (with default interval). */
export type HealthCheckOption = boolean | HealthCheckOptions | HealthCheckFunction;

/** Validated health-check settings. */
export interface ResolvedHealthCheck {
  readonly path: string | undefined;
  readonly expectStatus: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
  readonly check: HealthCheckFunction | undefined;
}

/** Where the check connects. */
export interface HealthTarget {
  readonly host: string;
  readonly port: number;
  readonly protocol: 'http' | 'https';
}

/**
 * Resolves the `healthCheck` option; undefined when off.
 *
 * @throws {InvalidOptionError} naming the field.
 */
export function resolveHealthCheckOption(value: HealthCheckOption | undefined): ResolvedHealthCheck | undefined {
  if (value === undefined || value === false) return undefined;
  const options: HealthCheckOptions = value === true ? {} : typeof value === 'function' ? { check: value } : value;
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('healthCheck: expected true, options or a function');
  if (options.path !== undefined && (typeof options.path !== 'string' || !/^\/[\x21-\x7e]{0,1023}$/.test(options.path))) {
    throw new InvalidOptionError('healthCheck.path: expected a path starting with "/" (printable characters, at most 1024)');
  }
  if (options.check !== undefined && typeof options.check !== 'function') throw new InvalidOptionError('healthCheck.check: expected a function');
  const intervalMs = integer('healthCheck.intervalMs', options.intervalMs, DEFAULT_HEALTH_INTERVAL_MS, 50, 3_600_000);
  return Object.freeze({
    path: options.path,
    expectStatus: integer('healthCheck.expectStatus', options.expectStatus, DEFAULT_EXPECT_STATUS, 100, 599),
    intervalMs,
    timeoutMs: integer('healthCheck.timeoutMs', options.timeoutMs, Math.min(DEFAULT_HEALTH_TIMEOUT_MS, intervalMs), 10, 600_000),
    unhealthyThreshold: integer('healthCheck.unhealthyThreshold', options.unhealthyThreshold, DEFAULT_UNHEALTHY_THRESHOLD, 1, 100),
    healthyThreshold: integer('healthCheck.healthyThreshold', options.healthyThreshold, DEFAULT_HEALTHY_THRESHOLD, 1, 100),
    check: options.check,
  });
}

/** Events of {@link TargetHealthCheck}. */
export interface TargetHealthCheckEvents {
  /** The target became healthy or unhealthy (emitted on transitions only). */
  change: [healthy: boolean, reason: string];
}

function tcpCheck(target: HealthTarget, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: target.host, port: target.port });
    const done = (failure: string | undefined): void => {
      socket.destroy();
      resolve(failure);
    };
    socket.setTimeout(timeoutMs, () => done(`no TCP connection within ${timeoutMs} ms`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => done(`TCP connect failed (${error.code ?? error.message})`));
  });
}

function httpCheck(target: HealthTarget, path: string, expectStatus: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const transport = target.protocol === 'https' ? https : http;
    const request = transport.request(
      { host: target.host, port: target.port, path, method: 'GET', agent: false, timeout: timeoutMs, rejectUnauthorized: false, headers: { 'user-agent': 'inteli-agent-health' } },
      (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        request.destroy();
        resolve(status === expectStatus ? undefined : `GET ${path} answered ${status}, expected ${expectStatus}`);
      },
    );
    request.once('timeout', () => {
      request.destroy();
      resolve(`GET ${path} did not answer within ${timeoutMs} ms`);
    });
    request.once('error', (error: NodeJS.ErrnoException) => resolve(`GET ${path} failed (${error.code ?? error.message})`));
    request.end();
  });
}

/** Periodic health check of one target. `start()`/`stop()` are idempotent; `stop()` clears its timer. */
export class TargetHealthCheck extends EventEmitter<TargetHealthCheckEvents> {
  readonly #options: ResolvedHealthCheck;
  readonly #target: () => HealthTarget;
  #healthy = true;
  #reason = 'not checked yet';
  #failures = 0;
  #successes = 0;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  /** @param target where to connect, read at every check (the server's port is known only once it listens). */
  constructor(options: ResolvedHealthCheck, target: () => HealthTarget) {
    super();
    this.#options = options;
    this.#target = target;
  }

  /** The current verdict (true until a check says otherwise). */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** Why the last transition happened. */
  get reason(): string {
    return this.#reason;
  }

  /** Runs a first check now (resolving once it is done), then every `intervalMs`. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.runOnce();
    this.#schedule();
  }

  /** Stops checking; idempotent. */
  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Runs one check and applies the thresholds. Never rejects. */
  async runOnce(): Promise<void> {
    let failure: string | undefined;
    try {
      failure = await this.#check();
    } catch (error) {
      failure = `the check threw: ${(error as Error).message}`;
    }
    if (failure === undefined) {
      this.#failures = 0;
      this.#successes += 1;
      if (!this.#healthy && this.#successes >= this.#options.healthyThreshold) this.#set(true, 'the check passed');
    } else {
      this.#successes = 0;
      this.#failures += 1;
      if (this.#healthy && this.#failures >= this.#options.unhealthyThreshold) this.#set(false, failure);
    }
  }

  #set(healthy: boolean, reason: string): void {
    this.#healthy = healthy;
    this.#reason = reason;
    this.emit('change', healthy, reason);
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      void this.runOnce().then(() => this.#schedule());
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  async #check(): Promise<string | undefined> {
    const options = this.#options;
    if (options.check !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`the check did not answer within ${options.timeoutMs} ms`), options.timeoutMs);
      });
      try {
        const verdict = await Promise.race([Promise.resolve(options.check()).then((ok) => (ok === true ? undefined : 'the check reported unhealthy')), timeout]);
        return verdict;
      } finally {
        clearTimeout(timer);
      }
    }
    const target = this.#target();
    return options.path === undefined ? tcpCheck(target, options.timeoutMs) : httpCheck(target, options.path, options.expectStatus, options.timeoutMs);
  }
}
