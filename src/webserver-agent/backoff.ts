/**
 * Reconnect delays: jittered exponential backoff, as a pure function so it can be tested with a fixed
 * random source. Jitter spreads the reconnects of many agents after a proxy restart, so they do not all
 * hit the new process in the same millisecond.
 */
import { InvalidOptionError } from '../shared/errors.js';

/** Default first delay, in milliseconds. */
export const DEFAULT_INITIAL_DELAY_MS = 250;
/** Default largest delay, in milliseconds. */
export const DEFAULT_MAX_DELAY_MS = 10_000;
/** Default growth factor per attempt. */
export const DEFAULT_BACKOFF_FACTOR = 2;
/** Default jitter: the share of the delay that is randomised (0 none, 1 full jitter). */
export const DEFAULT_BACKOFF_JITTER = 0.5;

/**
 * Largest delay after a refused connection, in milliseconds. Nothing listening is what a restarting
 * proxy looks like, and a refused connection costs the proxy nothing, so the agents keep trying every
 * 1-2 s instead of drifting to `maxDelayMs` and finding the proxy back up to 10 s late (2,000 agents
 * after a restart: every route back 12.6 s after the proxy listened, 5-10 s of it agents still waiting;
 * see bench/README.md). 429 and 503 (the proxy is there and busy) still back off up to `maxDelayMs`.
 */
export const UNREACHABLE_MAX_DELAY_MS = 2_000;

/** Backoff parameters. */
export interface BackoffOptions {
  /** First delay in ms, 1 to 3600000. Default 250. */
  initialDelayMs?: number;
  /** Largest delay in ms, at least `initialDelayMs`, at most 3600000. Default 10000. */
  maxDelayMs?: number;
  /** Growth per attempt, 1 to 10. Default 2. */
  factor?: number;
  /** Randomised share of each delay, 0 to 1. Default 0.5. */
  jitter?: number;
}

/** Validated, frozen backoff parameters. */
export type ResolvedBackoffOptions = Readonly<Required<BackoffOptions>>;

function check(name: string, value: number, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidOptionError(`reconnect.${name}: expected a number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/**
 * Applies defaults and validates.
 *
 * @throws {InvalidOptionError} naming the option and its range.
 */
export function resolveBackoffOptions(options: BackoffOptions = {}): ResolvedBackoffOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('reconnect: expected an object');
  const initialDelayMs = check('initialDelayMs', options.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS, 1, 3_600_000);
  const maxDelayMs = check('maxDelayMs', options.maxDelayMs ?? Math.max(DEFAULT_MAX_DELAY_MS, initialDelayMs), initialDelayMs, 3_600_000);
  return Object.freeze({
    initialDelayMs,
    maxDelayMs,
    factor: check('factor', options.factor ?? DEFAULT_BACKOFF_FACTOR, 1, 10),
    jitter: check('jitter', options.jitter ?? DEFAULT_BACKOFF_JITTER, 0, 1),
  });
}

/**
 * The backoff after a refused connection: the same curve, capped at {@link UNREACHABLE_MAX_DELAY_MS} (or
 * at `maxDelayMs` or `initialDelayMs` when those say otherwise).
 */
export function unreachableBackoff(options: ResolvedBackoffOptions): ResolvedBackoffOptions {
  const maxDelayMs = Math.min(options.maxDelayMs, Math.max(options.initialDelayMs, UNREACHABLE_MAX_DELAY_MS));
  return Object.freeze({ ...options, maxDelayMs });
}

/** True when `error` (or its cause) is a TCP connection refused: nothing listens at the address. */
export function isConnectionRefused(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth += 1) {
    if ((current as NodeJS.ErrnoException).code === 'ECONNREFUSED') return true;
  }
  return false;
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry): `min(maxDelayMs, initialDelayMs *
 * factor^attempt)`, of which the share `jitter` is randomised downwards, so the result lies in
 * `[base * (1 - jitter), base]`. Never above `maxDelayMs`, never below 1 ms. `random` returns [0, 1).
 */
export function nextBackoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const { initialDelayMs, maxDelayMs, factor, jitter } = resolveBackoffOptions(options);
  const safeAttempt = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  // Math.pow overflows to Infinity for large attempts, which min() turns into maxDelayMs.
  const base = Math.min(maxDelayMs, initialDelayMs * Math.pow(factor, safeAttempt));
  const drawn = random();
  const r = Number.isFinite(drawn) ? Math.min(Math.max(drawn, 0), 1) : 0;
  return Math.max(1, Math.round(base * (1 - jitter * r)));
}
