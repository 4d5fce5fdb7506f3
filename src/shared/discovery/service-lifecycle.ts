/**
 * The idempotent start/stop every discovery socket owner follows: a second `start()` returns the first
 * one's promise, a second `stop()` the first one's, `stop()` waits for a start in progress, and a stopped
 * object does not start again (make a new one).
 */
import { NotRunningError } from '../errors.js';

/** Start/stop bookkeeping of one object. */
export class ServiceLifecycle {
  readonly #name: string;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  /** `name` is used in the error of a start after stop. */
  constructor(name: string) {
    this.#name = name;
  }

  #running = false;

  /** True between a successful start and the beginning of stop. */
  get running(): boolean {
    return this.#running;
  }

  /** True once stop began. */
  get stopped(): boolean {
    return this.#stopping !== undefined;
  }

  /**
   * Runs `open` once.
   *
   * @throws {NotRunningError} after stop.
   */
  start(open: () => Promise<void>): Promise<void> {
    if (this.#stopping !== undefined) return Promise.reject(new NotRunningError(`${this.#name} is stopped`));
    this.#starting ??= open().then(() => {
      if (this.#stopping === undefined) this.#running = true;
    });
    return this.#starting;
  }

  /** Runs `close` once, after any start in progress settled. */
  stop(close: () => Promise<void>): Promise<void> {
    this.#stopping ??= (async () => {
      this.#running = false;
      await this.#starting?.catch(() => undefined);
      await close();
    })();
    return this.#stopping;
  }
}
