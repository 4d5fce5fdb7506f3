/**
 * The recent control events the status API and page show: a fixed-size ring buffer of plain records
 * (backends added, removed with their reason, rejected; sessions; authentication failures). Old entries
 * are overwritten; nothing here grows with traffic.
 */

/** Kinds of {@link AdminEvent}. */
export type AdminEventType =
  | 'backend_added'
  | 'backend_removed'
  | 'backend_rejected'
  | 'session_opened'
  | 'session_closed'
  | 'auth_failure'
  | 'admin_auth_failure';

/** One recorded event. Plain data; never contains a token or key material. */
export interface AdminEvent {
  /** Increasing number, unique for the life of the proxy (lets a poller skip what it has seen). */
  readonly seq: number;
  /** ISO 8601 time. */
  readonly time: string;
  readonly type: AdminEventType;
  readonly agentId?: string | undefined;
  readonly backendId?: string | undefined;
  /** Removal reason, error code or refusal reason. */
  readonly reason?: string | undefined;
  /** Rules of the backend (added/removed). */
  readonly rules?: readonly string[] | undefined;
  /** Target origins of the backend (added/removed). */
  readonly origins?: readonly string[] | undefined;
  /** Human-readable detail. */
  readonly detail?: string | undefined;
  /** How many occurrences this entry stands for (auth failures are summed per sampling interval). */
  readonly count?: number | undefined;
}

/** A bounded log of {@link AdminEvent}s. */
export class EventLog {
  readonly #capacity: number;
  readonly #entries: AdminEvent[] = [];
  #next = 0;
  #seq = 0;
  readonly #now: () => number;

  /** @param capacity entries kept. @param now clock in epoch ms (tests). */
  constructor(capacity: number, now: () => number = Date.now) {
    this.#capacity = capacity;
    this.#now = now;
  }

  /** Records an event; the oldest is dropped when the log is full. */
  add(event: Omit<AdminEvent, 'seq' | 'time'>): AdminEvent {
    this.#seq += 1;
    const entry: AdminEvent = Object.freeze({ seq: this.#seq, time: new Date(this.#now()).toISOString(), ...event });
    if (this.#entries.length < this.#capacity) this.#entries.push(entry);
    else this.#entries[this.#next] = entry;
    this.#next = (this.#next + 1) % this.#capacity;
    return entry;
  }

  /** The events, newest first. */
  list(): AdminEvent[] {
    const ordered = this.#entries.length < this.#capacity ? this.#entries.slice() : [...this.#entries.slice(this.#next), ...this.#entries.slice(0, this.#next)];
    return ordered.reverse();
  }
}
