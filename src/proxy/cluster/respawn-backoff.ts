/**
 * How long the primary waits before replacing a dead worker: `baseMs`, doubling with every worker that
 * dies soon after it was forked (a crash loop, for example a port taken by another process), at most
 * `maxMs`. A worker that lived `stableMs` or longer starts the count again, so a rare crash is replaced
 * quickly. Pure functions, so the policy is tested without processes.
 */

/** The count of recent deaths after one more: reset to 1 when the dead worker had been stable. */
export function nextFailureCount(previous: number, livedMs: number, stableMs: number): number {
  return livedMs >= stableMs ? 1 : previous + 1;
}

/** The delay before forking a replacement after `failures` recent deaths (1 or more), in ms. */
export function respawnDelayMs(failures: number, baseMs: number, maxMs: number): number {
  const exponent = Math.max(0, Math.min(failures - 1, 30));
  return Math.min(maxMs, baseMs * 2 ** exponent);
}
