/**
 * Counts in-flight work (requests and tunnels) and lets callers wait for zero. There is one counter per
 * backend, shared by the backend's upstreams so counting is a field increment, and one for the whole data
 * plane (the parent of every backend counter), which graceful stop waits on. The control plane drains a
 * backend by marking it draining and awaiting its counter's `whenIdle`.
 */
export class LoadCounter {
  /** What is counted (a backend id, or `*` for the data plane). */
  readonly label: string;
  /** Requests and tunnels in flight. */
  inFlight = 0;
  readonly #parent: LoadCounter | undefined;
  #waiters: (() => void)[] | undefined;

  constructor(label: string, parent?: LoadCounter) {
    this.label = label;
    this.#parent = parent;
  }

  /** Resolves once nothing is in flight (at once when already idle). */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      (this.#waiters ??= []).push(resolve);
    });
  }

  /** Counts one more request or tunnel (here and in the parent). */
  increment(): void {
    this.inFlight += 1;
    this.#parent?.increment();
  }

  /** Counts one finished request or tunnel (here and in the parent). */
  decrement(): void {
    this.#parent?.decrement();
    this.inFlight -= 1;
    if (this.inFlight > 0) return;
    this.inFlight = 0;
    const waiters = this.#waiters;
    if (waiters !== undefined) {
      this.#waiters = undefined;
      for (const resolve of waiters) resolve();
    }
  }
}
