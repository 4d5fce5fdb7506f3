/**
 * When to renew and when to try again, as pure functions (tested with fixed clocks). A certificate is
 * renewed once `renewAtFraction` of its lifetime has passed (2/3 by default, Let's Encrypt's advice:
 * day 60 of 90), which leaves a third of the lifetime for retries. A failed order is retried after an
 * exponential backoff with jitter, so a CA outage is not hammered by every name at the same instant.
 */

/** The instant (ms) from which a certificate valid from `notBefore` to `notAfter` should be renewed. */
export function renewalTime(notBefore: number, notAfter: number, fraction: number): number {
  return notBefore + Math.floor((notAfter - notBefore) * fraction);
}

/** Whole days left until `notAfter` at `now` (negative once expired), for the metric. */
export function daysLeft(notAfter: number, now: number): number {
  return Math.floor((notAfter - now) / 86_400_000);
}

/**
 * Delay before attempt `failures + 1`, in ms: `minMs * 2^(failures - 1)`, capped at `maxMs`, minus up to
 * a quarter of jitter (`random` in [0, 1)).
 */
export function retryDelay(failures: number, minMs: number, maxMs: number, random: number = Math.random()): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const base = Math.min(maxMs, minMs * 2 ** exponent);
  return Math.max(minMs, Math.round(base - base * 0.25 * random));
}
