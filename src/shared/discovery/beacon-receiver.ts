/**
 * `BeaconReceiver`: an agent's (or a peer proxy's) ear for beacons. It joins the multicast group (or
 * listens for broadcasts) and, for every datagram, in this order: rate-limits by source address before
 * any cryptography, opens the sealed datagram with the keyring, decodes the beacon, and lets the
 * {@link PeerTracker} decide freshness and order. Every refusal is counted by reason and none is thrown:
 * garbage, a wrong secret, a forgery or a replay changes nothing but a counter.
 *
 * Events: `up`, `changed`, `down` (see peer-tracker.ts); `refused` (reason, source address) for every
 * refused datagram (for debug logs; counters are in `stats()`).
 */
import type dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { ListenError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { decodeBeacon } from './beacon-message.js';
import { resolveDiscoveryOptions, type DiscoveryOptions, type ResolvedDiscoveryOptions } from './discovery-options.js';
import { PeerTracker, type DiscoveredProxy } from './peer-tracker.js';
import { DiscoveryCounters, type DiscoveryCountersSnapshot, type RefusalReason } from './refusal-counters.js';
import { DatagramType, openDatagram } from './sealed-datagram.js';
import { ServiceLifecycle } from './service-lifecycle.js';
import { SourceRateLimiter } from './source-rate-limiter.js';
import { bindUdpSocket, closeUdpSocket } from './udp-socket.js';

/** Test hooks: clocks. */
export interface BeaconReceiverClocks {
  /** Wall clock, ms since 1970. Default `Date.now`. */
  readonly now?: () => number;
  /** Monotonic clock of the rate limiter, ms. Default `performance.now`. */
  readonly monotonic?: () => number;
}

/** Receives and verifies beacons; tracks which proxies are up. */
export class BeaconReceiver extends EventEmitter {
  readonly #options: ResolvedDiscoveryOptions;
  readonly #logger: Logger;
  readonly #lifecycle = new ServiceLifecycle('beacon receiver');
  readonly #tracker: PeerTracker;
  readonly #limiter: SourceRateLimiter;
  readonly #counters = new DiscoveryCounters();
  #socket: dgram.Socket | undefined;

  /** @throws {InvalidOptionError}, {ClusterSecretError} for invalid options. */
  constructor(options: DiscoveryOptions, logger: Logger = silentLogger(), clocks: BeaconReceiverClocks = {}) {
    super();
    this.#options = resolveDiscoveryOptions(options);
    this.#logger = logger.child({ component: 'discovery-receiver' });
    this.#limiter = new SourceRateLimiter(this.#options.rateLimits, clocks.monotonic);
    this.#tracker = new PeerTracker({ maxProxies: this.#options.maxProxies, maxClockSkewMs: this.#options.maxClockSkewMs, now: clocks.now });
    for (const event of ['up', 'changed', 'down'] as const) this.#tracker.on(event, (...args: unknown[]) => this.emit(event, ...args));
  }

  /** The bound UDP port (useful when `port` was 0); undefined before start. */
  get port(): number | undefined {
    return this.#socket?.address().port;
  }

  /** Proxies currently up. */
  list(): DiscoveredProxy[] {
    return this.#tracker.list();
  }

  /** Counters of received, accepted and refused datagrams. */
  stats(): DiscoveryCountersSnapshot {
    return this.#counters.snapshot();
  }

  /** Binds and joins the group. Idempotent. */
  start(): Promise<void> {
    return this.#lifecycle.start(async () => {
      const options = this.#options;
      const socket = await bindUdpSocket({ address: options.bindAddress, port: options.port, reuseAddr: true, purpose: 'the beacon receiver' });
      socket.on('error', (error) => this.#logger.warn({ err: error }, 'discovery receiver socket error'));
      try {
        if (!options.broadcastOnly) socket.addMembership(options.group, options.interface);
      } catch (error) {
        await closeUdpSocket(socket);
        throw new ListenError(
          `the beacon receiver cannot join ${options.group} on ${options.interface ?? 'the default interface'}: ${(error as Error).message}` +
            ' (set discovery.interface to the LAN address, or use broadcastOnly)',
          { cause: error },
        );
      }
      socket.on('message', (datagram, remote) => this.handle(datagram, remote.address));
      this.#socket = socket;
    });
  }

  /** Leaves the group, closes the socket, clears every timer. Idempotent; emits no `down`. */
  stop(): Promise<void> {
    return this.#lifecycle.stop(async () => {
      this.#tracker.stop();
      const socket = this.#socket;
      this.#socket = undefined;
      if (socket !== undefined) await closeUdpSocket(socket);
    });
  }

  /** Handles one datagram from `address`: undefined when accepted, else the refusal reason (counted). */
  handle(datagram: Buffer, address: string): RefusalReason | undefined {
    this.#counters.received();
    const reason = this.#judge(datagram, address);
    if (reason === undefined) this.#counters.accepted();
    else {
      this.#counters.refused(reason);
      this.emit('refused', reason, address);
    }
    return reason;
  }

  #judge(datagram: Buffer, address: string): RefusalReason | undefined {
    if (!this.#limiter.allow(address)) return 'rate_limited';
    const opened = openDatagram(this.#options.keyring, datagram);
    if (!opened.ok) return opened.reason;
    if (opened.type !== DatagramType.beacon) return 'wrong_type';
    const beacon = decodeBeacon(opened.body);
    if (beacon === undefined) return 'malformed';
    return this.#tracker.consider(beacon, address, 'beacon', opened.keys.keyId.toString('hex'));
  }
}
