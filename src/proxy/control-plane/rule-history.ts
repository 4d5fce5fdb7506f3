/**
 * The distinct rules each key registered over a sliding window, and the cap on them (issue 14). Live
 * rules are bounded by sessions per key times rules per registration, but an agent re-registering new
 * sub-rules every few milliseconds would otherwise make the proxy build, count and forget thousands of
 * routes a second: 69,120 rules in 15 s in the review. A key may name at most `maxRules` distinct rules
 * within `windowMs`; a registration that would exceed it is refused with `RP_ERR_LIMIT_EXCEEDED`, and the
 * rules the key already serves keep working.
 *
 * Memory is bounded too: at most `maxRules` entries per key, keys are the trust store's, and a key's
 * entries older than the window are pruned whenever that key registers (and the key forgotten once empty).
 */

/** Per-key history of registered rules. */
export class RuleHistory {
  readonly #maxRules: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  /** Rule key -> last time it was registered, per key id. */
  readonly #byKey = new Map<string, Map<string, number>>();

  /**
   * @param maxRules distinct rules one key may register within the window.
   * @param windowMs length of the window, in milliseconds.
   * @param now clock in epoch ms (tests).
   */
  constructor(maxRules: number, windowMs: number, now: () => number = Date.now) {
    this.#maxRules = maxRules;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /**
   * Records `rules` for `keyId` when the key stays within the cap and returns true; otherwise records
   * nothing and returns false.
   */
  admit(keyId: string, rules: Iterable<string>): boolean {
    const now = this.#now();
    let seen = this.#byKey.get(keyId);
    if (seen !== undefined) {
      for (const [rule, at] of seen) if (now - at > this.#windowMs) seen.delete(rule);
    }
    let added = 0;
    const fresh = new Set<string>();
    for (const rule of rules) {
      if (fresh.has(rule)) continue;
      fresh.add(rule);
      if (seen?.has(rule) !== true) added += 1;
    }
    if ((seen?.size ?? 0) + added > this.#maxRules) {
      if (seen?.size === 0) this.#byKey.delete(keyId);
      return false;
    }
    if (seen === undefined) this.#byKey.set(keyId, (seen = new Map()));
    for (const rule of fresh) seen.set(rule, now);
    return true;
  }

  /** Distinct rules `keyId` registered within the window (for status and tests). */
  count(keyId: string): number {
    return this.#byKey.get(keyId)?.size ?? 0;
  }

  /** Forgets a key (removed from the trust store). */
  forget(keyId: string): void {
    this.#byKey.delete(keyId);
  }
}
