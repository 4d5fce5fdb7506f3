/**
 * A proxy's side of discovery state: its announcement, a random boot epoch and a counter that grows with
 * every message. The beacon sender and the probe responder of one proxy share one source, so their
 * messages are ordered together and a receiver that sees both never mistakes one for a replay of the other.
 */
import { randomBytes } from 'node:crypto';
import { InvalidOptionError } from '../errors.js';
import { resolveAnnouncement, type Announcement } from './announcement.js';
import { EPOCH_BYTES, MAX_BEACON_LIFETIME_MS, type BeaconMessage } from './beacon-message.js';

/** Issues beacon messages for one proxy. */
export class BeaconSource {
  #announcement: Announcement;
  readonly #epoch = randomBytes(EPOCH_BYTES).toString('hex');
  readonly #now: () => number;
  #counter = 0;

  /**
   * @param announcement what the proxy announces (validated here).
   * @param now wall clock in ms (tests freeze it). Default `Date.now`.
   * @throws {InvalidOptionError} for an invalid announcement.
   */
  constructor(announcement: Announcement, now: () => number = Date.now) {
    this.#announcement = resolveAnnouncement(announcement);
    this.#now = now;
  }

  /** The current announcement. */
  get announcement(): Announcement {
    return this.#announcement;
  }

  /** This boot's epoch (16 hex characters). */
  get epoch(): string {
    return this.#epoch;
  }

  /**
   * Replaces the announcement (new URLs, a new certificate); the next message carries it.
   *
   * @throws {InvalidOptionError} for an invalid announcement.
   */
  update(announcement: Announcement): void {
    this.#announcement = resolveAnnouncement(announcement);
  }

  /**
   * The next message: counter + 1, issued now, valid for `lifetimeMs`.
   *
   * @throws {InvalidOptionError} when the lifetime is outside 1 ms to 10 minutes.
   */
  next(lifetimeMs: number): BeaconMessage {
    if (!Number.isInteger(lifetimeMs) || lifetimeMs < 1 || lifetimeMs > MAX_BEACON_LIFETIME_MS) {
      throw new InvalidOptionError(`lifetimeMs: expected an integer from 1 to ${MAX_BEACON_LIFETIME_MS}, got ${String(lifetimeMs)}`);
    }
    this.#counter += 1;
    const issuedAt = this.#now();
    return Object.freeze({ announcement: this.#announcement, epoch: this.#epoch, counter: this.#counter, issuedAt, expiresAt: issuedAt + lifetimeMs });
  }
}
