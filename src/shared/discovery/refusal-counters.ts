/**
 * Counters of what a discovery socket received: accepted datagrams, and every refusal by reason. Plain
 * numbers, so a host can expose them as metrics (`inteli_discovery_refused_total{reason}`) without this
 * module importing a metrics library.
 */

/** Every reason a discovery datagram is refused. */
export const REFUSAL_REASONS = Object.freeze([
  /** Not exactly DATAGRAM_BYTES long (truncated, oversized, or someone else's protocol). */
  'size',
  /** An unknown wire version. */
  'version',
  /** A key id outside the keyring: another cluster, or a wrong secret. */
  'unknown_key',
  /** A known key id but the GCM tag does not verify: forged or corrupted. */
  'forged',
  /** Opened but the content does not decode (only a holder of the secret can send this: a bug or an insider). */
  'malformed',
  /** A type this socket does not take (a challenge sent to a beacon receiver, ...). */
  'wrong_type',
  /** Its expiry is past (beyond the allowed clock skew). */
  'expired',
  /** Issued in the future (beyond the allowed clock skew). */
  'not_yet_valid',
  /** The same counter as the last accepted one from this proxy and boot. */
  'replayed',
  /** An older counter, or an older boot, than the last accepted one. */
  'out_of_order',
  /** An answer to no pending challenge (late, duplicated or unsolicited), or a MAC that does not verify. */
  'unsolicited',
  /** The per-source or global datagram rate was exceeded; dropped before any cryptography. */
  'rate_limited',
  /** A new proxy while already tracking the most allowed. */
  'too_many_proxies',
] as const);

/** One of {@link REFUSAL_REASONS}. */
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** A point-in-time copy of the counters. */
export interface DiscoveryCountersSnapshot {
  /** Datagrams received (accepted or not). */
  readonly received: number;
  /** Datagrams accepted. */
  readonly accepted: number;
  /** Datagrams refused, by reason (every reason present, 0 when none). */
  readonly refused: Readonly<Record<RefusalReason, number>>;
}

/** Mutable counters owned by one discovery socket. */
export class DiscoveryCounters {
  #received = 0;
  #accepted = 0;
  readonly #refused: Record<RefusalReason, number> = Object.fromEntries(REFUSAL_REASONS.map((reason) => [reason, 0])) as Record<RefusalReason, number>;

  /** Counts a received datagram. */
  received(): void {
    this.#received += 1;
  }

  /** Counts an accepted datagram. */
  accepted(): void {
    this.#accepted += 1;
  }

  /** Counts a refusal. */
  refused(reason: RefusalReason): void {
    this.#refused[reason] += 1;
  }

  /** Returns a frozen copy. */
  snapshot(): DiscoveryCountersSnapshot {
    return Object.freeze({ received: this.#received, accepted: this.#accepted, refused: Object.freeze({ ...this.#refused }) });
  }
}
