/**
 * Counters of the control plane, for metrics (ragep2p's lesson: every limit that closes a session is
 * counted). Plain numbers in maps; the admin/metrics layer reads {@link ControlPlaneCounters.snapshot}
 * from a Prometheus `collect()` callback, so nothing here depends on prom-client.
 */

/** Why an upgrade was refused before a session existed (a metric label). */
export type UpgradeRefusal =
  | 'stopping'
  | 'pending_handshakes'
  | 'pending_unknown_handshakes'
  | 'queued_too_long'
  | 'bad_request'
  | 'subprotocol'
  | 'unauthorized'
  | 'revoked'
  | 'forbidden'
  | 'sessions_per_key'
  | 'trust_stale'
  | 'internal';

/** Which limit closed a session (a metric label). */
export type LimitBreach = 'frame_size' | 'rate' | 'register_deadline' | 'invalid_frames' | 'slow_reader';

/** A point-in-time copy of the counters. */
export interface ControlPlaneStats {
  /** Upgrades that became sessions. */
  readonly upgradesAccepted: number;
  /** Refused upgrades by reason. */
  readonly upgradesRefused: Readonly<Record<string, number>>;
  /** Token rejections by the verifier's reason (`expired`, `replay`, `signature`, ...). */
  readonly unauthorized: Readonly<Record<string, number>>;
  /** Sessions closed for breaking a limit, by limit. */
  readonly limitBreaches: Readonly<Record<string, number>>;
  /** Sessions evicted by the heartbeat. */
  readonly evictions: number;
  /** Registrations accepted. */
  readonly registrations: number;
  /** Registrations refused, by error code. */
  readonly registrationsRefused: Readonly<Record<string, number>>;
  /** Backends removed, by reason. */
  readonly backendsRemoved: Readonly<Record<string, number>>;
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Mutable counters; one instance per control plane. */
export class ControlPlaneCounters {
  #upgradesAccepted = 0;
  #evictions = 0;
  #registrations = 0;
  readonly #upgradesRefused = new Map<string, number>();
  readonly #unauthorized = new Map<string, number>();
  readonly #limitBreaches = new Map<string, number>();
  readonly #registrationsRefused = new Map<string, number>();
  readonly #backendsRemoved = new Map<string, number>();

  upgradeAccepted(): void {
    this.#upgradesAccepted += 1;
  }

  upgradeRefused(reason: UpgradeRefusal, tokenReason?: string): void {
    bump(this.#upgradesRefused, reason);
    if (tokenReason !== undefined) bump(this.#unauthorized, tokenReason);
  }

  limitBreached(limit: LimitBreach): void {
    bump(this.#limitBreaches, limit);
  }

  evicted(): void {
    this.#evictions += 1;
  }

  registered(): void {
    this.#registrations += 1;
  }

  registrationRefused(code: string): void {
    bump(this.#registrationsRefused, code);
  }

  backendRemoved(reason: string): void {
    bump(this.#backendsRemoved, reason);
  }

  /** A copy of every counter. */
  snapshot(): ControlPlaneStats {
    return {
      upgradesAccepted: this.#upgradesAccepted,
      upgradesRefused: Object.fromEntries(this.#upgradesRefused),
      unauthorized: Object.fromEntries(this.#unauthorized),
      limitBreaches: Object.fromEntries(this.#limitBreaches),
      evictions: this.#evictions,
      registrations: this.#registrations,
      registrationsRefused: Object.fromEntries(this.#registrationsRefused),
      backendsRemoved: Object.fromEntries(this.#backendsRemoved),
    };
  }
}
