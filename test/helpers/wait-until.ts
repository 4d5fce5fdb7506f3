/**
 * Bounded waits for tests. `untilEvent` re-checks a condition each time an emitter fires (use it where
 * an event exists); `waitUntil` polls a condition that has no event (a counter in another process, a
 * kernel-level state) and gives up at its deadline. Both reject with a message naming what was awaited,
 * and neither leaves a timer or a listener behind.
 */
import type { EventEmitter } from 'node:events';

/** Resolves once `check()` holds, checking every `everyMs`; rejects after `ms`. */
export async function waitUntil(check: () => boolean, ms: number, what: string, everyMs = 10): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Like {@link waitUntil} for an async check (an HTTP probe, an IPC round trip). */
export async function waitUntilAsync(check: () => Promise<boolean>, ms: number, what: string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Resolves once `check()` holds, checked now and after every `event` of `emitter`; rejects after `ms`. */
export function untilEvent(emitter: EventEmitter, event: string, check: () => boolean, ms: number, what: string): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      clearTimeout(timer);
      emitter.off(event, listener);
      if (error === undefined) resolve();
      else reject(error);
    };
    const listener = (): void => {
      if (check()) done();
    };
    const timer = setTimeout(() => done(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    emitter.on(event, listener);
  });
}
