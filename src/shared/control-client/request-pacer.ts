/**
 * Client-side pacing: a token bucket that WAITS instead of refusing. The proxy closes a session that
 * sends faster than its limit (4008), so a client that sends many requests (a bulk key import, a script
 * calling `addPublicKey` in a loop) spaces them out itself, below the proxy's admin budget.
 */
import { performance } from 'node:perf_hooks';

/** Paces requests to `ratePerSecond`, allowing bursts of `burst`. */
export class RequestPacer {
  readonly #ratePerMs: number;
  readonly #burst: number;
  #tokens: number;
  #last = performance.now();
  /** Waiters are served in order, so a burst of callers cannot starve one of them. */
  #queue: Promise<void> = Promise.resolve();

  constructor(ratePerSecond: number, burst: number) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
  }

  /** Resolves once a request may be sent (at once while the bucket holds a token). */
  take(): Promise<void> {
    const turn = this.#queue.then(() => this.#takeOne());
    this.#queue = turn;
    return turn;
  }

  async #takeOne(): Promise<void> {
    this.#refill();
    if (this.#tokens < 1) {
      const waitMs = Math.ceil((1 - this.#tokens) / this.#ratePerMs);
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      this.#refill();
    }
    this.#tokens = Math.max(0, this.#tokens - 1);
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#ratePerMs);
    this.#last = now;
  }
}
