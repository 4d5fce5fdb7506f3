/**
 * Which proxies are up, from the authenticated beacons (or probe answers) a receiver accepted. It is the
 * one place that decides freshness and order:
 *
 * - a message whose expiry is past, or whose issue time is in the future, beyond the allowed clock skew,
 *   is refused (`expired`, `not_yet_valid`);
 * - within one boot epoch the counter must grow: the same counter is `replayed`, a smaller one
 *   `out_of_order`; a new epoch (the proxy restarted, its counter began again) is accepted only when it was
 *   issued after the last accepted message, so an old boot's beacons cannot be replayed over a new boot's;
 * - a proxy is `up` from its first accepted message and `down` when nothing new was accepted for the
 *   lifetime of its last one, measured on this machine's monotonic clock (so skew does not delay it);
 * - the state of a proxy that went down is kept until everything it ever sent has expired, so a replay
 *   cannot bring it back; live proxies are bounded (`too_many_proxies`), and so are remembered ones.
 *
 * Events: `up` (DiscoveredProxy), `changed` (DiscoveredProxy, previous: DiscoveredProxy) when a proxy's
 * announcement or address changed, `down` (DiscoveredProxy).
 */
import { EventEmitter } from 'node:events';
import { sameAnnouncement, type Announcement } from './announcement.js';
import type { BeaconMessage } from './beacon-message.js';
import type { RefusalReason } from './refusal-counters.js';

/** How a proxy was found. */
export type DiscoveryChannel = 'beacon' | 'probe';

/** A proxy seen through discovery (a hint until the agent authenticated it on TLS). */
export interface DiscoveredProxy {
  readonly announcement: Announcement;
  /** Source address of the last accepted message. */
  readonly address: string;
  /** How the last accepted message came. */
  readonly via: DiscoveryChannel;
  /** Wall-clock time of the last accepted message, ms since 1970. */
  readonly lastSeenAt: number;
  /** Expiry of the last accepted message, ms since 1970 (the sender's clock). */
  readonly expiresAt: number;
  /** Id (hex) of the cluster key the last accepted message was sealed with: the proxy holds that key. */
  readonly keyId: string;
}

/** Bounds of a {@link PeerTracker}. */
export interface PeerTrackerOptions {
  /** Most proxies up at once. */
  readonly maxProxies: number;
  /** Clock difference tolerated between sender and receiver, in ms. */
  readonly maxClockSkewMs: number;
  /** Wall clock, ms since 1970 (tests freeze it). Default `Date.now`. */
  readonly now?: () => number;
}

interface PeerRecord {
  proxy: DiscoveredProxy;
  epoch: string;
  counter: number;
  issuedAt: number;
  live: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** Proxies seen, their freshness and their liveness. */
export class PeerTracker extends EventEmitter {
  readonly #options: PeerTrackerOptions;
  readonly #now: () => number;
  readonly #records = new Map<string, PeerRecord>();
  #stopped = false;

  constructor(options: PeerTrackerOptions) {
    super();
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Proxies currently up. */
  list(): DiscoveredProxy[] {
    return [...this.#records.values()].filter((record) => record.live).map((record) => record.proxy);
  }

  /**
   * Decides on an authenticated message: undefined when accepted (and events emitted), else why not.
   */
  consider(message: BeaconMessage, address: string, via: DiscoveryChannel, keyId = ''): RefusalReason | undefined {
    if (this.#stopped) return undefined;
    const now = this.#now();
    const skew = this.#options.maxClockSkewMs;
    if (message.expiresAt + skew < now) return 'expired';
    if (message.issuedAt - skew > now) return 'not_yet_valid';
    const { proxyId } = message.announcement;
    const record = this.#records.get(proxyId);
    if (record !== undefined) {
      if (record.epoch === message.epoch) {
        if (message.counter === record.counter) return 'replayed';
        if (message.counter < record.counter) return 'out_of_order';
      } else if (message.issuedAt <= record.issuedAt) {
        return 'out_of_order';
      }
    } else if (!this.#makeRoom(now)) {
      return 'too_many_proxies';
    }
    const proxy: DiscoveredProxy = Object.freeze({ announcement: message.announcement, address, via, lastSeenAt: now, expiresAt: message.expiresAt, keyId });
    const lifetimeMs = message.expiresAt - message.issuedAt;
    if (record === undefined) {
      this.#records.set(proxyId, { proxy, epoch: message.epoch, counter: message.counter, issuedAt: message.issuedAt, live: true, timer: this.#arm(proxyId, lifetimeMs) });
      this.emit('up', proxy);
      return undefined;
    }
    const previous = record.proxy;
    const wasLive = record.live;
    if (!wasLive && this.#liveCount() >= this.#options.maxProxies) return 'too_many_proxies';
    clearTimeout(record.timer);
    Object.assign(record, { proxy, epoch: message.epoch, counter: message.counter, issuedAt: message.issuedAt, live: true, timer: this.#arm(proxyId, lifetimeMs) });
    if (!wasLive) this.emit('up', proxy);
    else if (!sameAnnouncement(previous.announcement, proxy.announcement) || previous.address !== address) this.emit('changed', proxy, previous);
    return undefined;
  }

  /** Clears every timer and forgets every proxy, without `down` events (the owner is stopping). */
  stop(): void {
    this.#stopped = true;
    for (const record of this.#records.values()) clearTimeout(record.timer);
    this.#records.clear();
  }

  #arm(proxyId: string, lifetimeMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.#expire(proxyId), lifetimeMs);
    timer.unref();
    return timer;
  }

  #expire(proxyId: string): void {
    const record = this.#records.get(proxyId);
    if (record === undefined || !record.live || this.#stopped) return;
    record.live = false;
    record.timer = undefined;
    this.emit('down', record.proxy);
  }

  #liveCount(): number {
    let count = 0;
    for (const record of this.#records.values()) if (record.live) count += 1;
    return count;
  }

  /** Makes room for one new proxy: false when the live bound is reached. */
  #makeRoom(now: number): boolean {
    if (this.#liveCount() >= this.#options.maxProxies) return false;
    if (this.#records.size < this.#options.maxProxies * 2) return true;
    // Forget proxies that are down and whose every message has expired: a replay of them is refused as stale.
    for (const [id, record] of this.#records) {
      if (!record.live && record.proxy.expiresAt + this.#options.maxClockSkewMs < now) this.#records.delete(id);
    }
    if (this.#records.size < this.#options.maxProxies * 2) return true;
    for (const [id, record] of this.#records) {
      if (!record.live) {
        this.#records.delete(id);
        return true;
      }
    }
    return false;
  }
}
