/**
 * A token bucket: `ratePerSecond` tokens flow in continuously up to `burst`; each frame takes one. It
 * needs no timer (tokens are topped up lazily from a monotonic clock), so a session costs nothing while
 * idle and nothing has to be cleared on close.
 */
import { performance } from 'node:perf_hooks';

/** A clock in milliseconds; monotonic by default so wall-clock jumps never refill or drain a bucket. */
export type MonotonicClock = () => number;

/** Rate limiter for the frames of one session. */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #now: MonotonicClock;
  #tokens: number;
  #last: number;

  /**
   * @param ratePerSecond tokens added per second (> 0).
   * @param burst capacity, and the number of tokens a new bucket starts with (>= 1).
   * @param now clock in milliseconds. Default `performance.now`.
   */
  constructor(ratePerSecond: number, burst: number, now: MonotonicClock = () => performance.now()) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#last = now();
  }

  /** Takes one token; returns false (and takes nothing) when the bucket is empty. */
  take(): boolean {
    const now = this.#now();
    const elapsed = now - this.#last;
    this.#last = now;
    if (elapsed > 0) this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#ratePerMs);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
