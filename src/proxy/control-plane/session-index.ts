/**
 * The live sessions of a control plane, indexed the ways the control plane looks them up: by key id
 * (sessions-per-key limit, revocation), by backend id (registry removals) and all of them (heartbeat,
 * stop). Pure bookkeeping: no sockets are touched here.
 */
import type { Session } from './session.js';

/** Sessions by key and by backend. */
export class SessionIndex {
  readonly #all = new Set<Session>();
  readonly #byKey = new Map<string, Set<Session>>();
  readonly #byBackend = new Map<string, Session>();
  // Upgrades that passed authentication but whose session does not exist yet, per key: counted against
  // the per-key limit so two concurrent upgrades cannot both take the last slot.
  readonly #reserved = new Map<string, number>();

  /** Number of live sessions. */
  get size(): number {
    return this.#all.size;
  }

  /** Live sessions plus reservations of a key. */
  countForKey(keyId: string): number {
    return (this.#byKey.get(keyId)?.size ?? 0) + (this.#reserved.get(keyId) ?? 0);
  }

  /** Reserves a slot for a key; release it with {@link release} once the session exists or failed. */
  reserve(keyId: string): void {
    this.#reserved.set(keyId, (this.#reserved.get(keyId) ?? 0) + 1);
  }

  /** Releases a reservation. */
  release(keyId: string): void {
    const count = (this.#reserved.get(keyId) ?? 0) - 1;
    if (count > 0) this.#reserved.set(keyId, count);
    else this.#reserved.delete(keyId);
  }

  /** Adds a session. */
  add(session: Session): void {
    this.#all.add(session);
    let set = this.#byKey.get(session.identity.id);
    if (set === undefined) {
      set = new Set();
      this.#byKey.set(session.identity.id, set);
    }
    set.add(session);
  }

  /** Removes a session and its backend link. */
  delete(session: Session): void {
    this.#all.delete(session);
    const set = this.#byKey.get(session.identity.id);
    if (set !== undefined) {
      set.delete(session);
      if (set.size === 0) this.#byKey.delete(session.identity.id);
    }
    if (session.backendId !== undefined && this.#byBackend.get(session.backendId) === session) {
      this.#byBackend.delete(session.backendId);
    }
  }

  /** Links a backend id to the session that registered it. */
  linkBackend(backendId: string, session: Session): void {
    this.#byBackend.set(backendId, session);
  }

  /** Unlinks a backend id. */
  unlinkBackend(backendId: string): void {
    this.#byBackend.delete(backendId);
  }

  /** The session that owns a backend. */
  byBackend(backendId: string): Session | undefined {
    return this.#byBackend.get(backendId);
  }

  /** Sessions of one key (a copy, safe to iterate while closing). */
  forKey(keyId: string): Session[] {
    return [...(this.#byKey.get(keyId) ?? [])];
  }

  /** Every session (a copy). */
  all(): Session[] {
    return [...this.#all];
  }

  /** Iterates the live sessions without copying (do not close sessions inside the loop). */
  values(): IterableIterator<Session> {
    return this.#all.values();
  }
}
