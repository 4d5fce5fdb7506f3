/**
 * Token buckets per source address plus one global bucket, checked before any cryptography, so that a
 * flood of datagrams (garbage or replays, from one address or many spoofed ones) costs a bounded amount
 * of CPU and memory. The table of sources is bounded: when full, the least recently seen source is
 * forgotten (it comes back with a full bucket, which favours senders over the flood, not the reverse).
 */

/** Bounds of a {@link SourceRateLimiter}. */
export interface SourceRateLimits {
  /** Datagrams per second allowed from one source address. */
  readonly perSourcePerSecond: number;
  /** Burst allowed from one source address. */
  readonly perSourceBurst: number;
  /** Datagrams per second allowed from all sources together. */
  readonly globalPerSecond: number;
  /** Most source addresses remembered. */
  readonly maxSources: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Per-source and global token buckets. */
export class SourceRateLimiter {
  readonly #limits: SourceRateLimits;
  readonly #now: () => number;
  readonly #sources = new Map<string, Bucket>();
  readonly #global: Bucket;

  /** `now` is a monotonic clock in ms (tests drive it). Default `performance.now`. */
  constructor(limits: SourceRateLimits, now: () => number = () => performance.now()) {
    this.#limits = limits;
    this.#now = now;
    this.#global = { tokens: limits.globalPerSecond, at: now() };
  }

  /** Number of sources remembered. */
  get size(): number {
    return this.#sources.size;
  }

  /** Takes one token for `address`; false when its bucket or the global one is empty. */
  allow(address: string): boolean {
    const now = this.#now();
    const { perSourcePerSecond, perSourceBurst, globalPerSecond, maxSources } = this.#limits;
    refill(this.#global, now, globalPerSecond, globalPerSecond);
    let bucket = this.#sources.get(address);
    if (bucket === undefined) {
      if (this.#sources.size >= maxSources) {
        const oldest = this.#sources.keys().next().value;
        if (oldest !== undefined) this.#sources.delete(oldest);
      }
      bucket = { tokens: perSourceBurst, at: now };
    } else {
      // Re-insert to keep the map in least-recently-seen order.
      this.#sources.delete(address);
      refill(bucket, now, perSourcePerSecond, perSourceBurst);
    }
    this.#sources.set(address, bucket);
    if (bucket.tokens < 1 || this.#global.tokens < 1) return false;
    bucket.tokens -= 1;
    this.#global.tokens -= 1;
    return true;
  }
}

function refill(bucket: Bucket, now: number, perSecond: number, capacity: number): void {
  const elapsed = Math.max(0, now - bucket.at);
  bucket.tokens = Math.min(capacity, bucket.tokens + (elapsed * perSecond) / 1000);
  bucket.at = now;
}
