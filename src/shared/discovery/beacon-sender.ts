/**
 * `BeaconSender`: a proxy's beacons. Every interval (jittered, so proxies started together do not send
 * together), it seals the next message of its {@link BeaconSource} and sends it to the multicast group
 * (TTL 1 by default) or, with `broadcastOnly`, to the broadcast address. A failed send is counted and
 * logged once per kind, never thrown: a network without a route must not stop the proxy.
 */
import type dgram from 'node:dgram';
import { InvalidOptionError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { Announcement } from './announcement.js';
import { BeaconSource } from './beacon-source.js';
import { encodeBeacon } from './beacon-message.js';
import { resolveDiscoveryOptions, type DiscoveryOptions, type ResolvedDiscoveryOptions } from './discovery-options.js';
import { DatagramType, sealDatagram } from './sealed-datagram.js';
import { ServiceLifecycle } from './service-lifecycle.js';
import { bindUdpSocket, closeUdpSocket } from './udp-socket.js';

/** Returns an interval drawn uniformly within `intervalMs × (1 ± jitter)`. */
export function jitteredInterval(intervalMs: number, jitter: number, random: () => number = Math.random): number {
  return Math.max(1, Math.round(intervalMs * (1 + jitter * (2 * random() - 1))));
}

/** Sends a proxy's sealed beacons. */
export class BeaconSender {
  readonly #options: ResolvedDiscoveryOptions;
  readonly #source: BeaconSource;
  readonly #logger: Logger;
  readonly #lifecycle = new ServiceLifecycle('beacon sender');
  #socket: dgram.Socket | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sent = 0;
  #failed = 0;
  readonly #loggedErrors = new Set<string>();

  /**
   * @param source the proxy's beacon source (shared with its probe responder), or an announcement to make one.
   * @throws {InvalidOptionError}, {ClusterSecretError} for invalid options.
   */
  constructor(options: DiscoveryOptions, source: BeaconSource | Announcement, logger: Logger = silentLogger()) {
    this.#options = resolveDiscoveryOptions(options);
    if (this.#options.port === 0) throw new InvalidOptionError('port: a beacon sender needs a destination port from 1 to 65535');
    this.#source = source instanceof BeaconSource ? source : new BeaconSource(source);
    this.#logger = logger.child({ component: 'discovery-beacon' });
  }

  /** The source whose messages are sent. */
  get source(): BeaconSource {
    return this.#source;
  }

  /** Beacons sent and sends that failed. */
  stats(): { readonly sent: number; readonly failed: number } {
    return Object.freeze({ sent: this.#sent, failed: this.#failed });
  }

  /** Opens the socket and sends the first beacon at once, then one per jittered interval. Idempotent. */
  start(): Promise<void> {
    return this.#lifecycle.start(async () => {
      const options = this.#options;
      const socket = await bindUdpSocket({ address: options.interface ?? '0.0.0.0', port: 0, reuseAddr: false, purpose: 'the beacon sender' });
      socket.on('error', (error) => this.#logOnce(error));
      if (options.broadcastOnly) socket.setBroadcast(true);
      else {
        socket.setMulticastTTL(options.ttl);
        // Receivers on this host (an agent beside its proxy) must hear the beacons too.
        socket.setMulticastLoopback(true);
        if (options.interface !== undefined) socket.setMulticastInterface(options.interface);
      }
      this.#socket = socket;
      this.#tick();
    });
  }

  /** Stops sending and closes the socket. Idempotent. */
  stop(): Promise<void> {
    return this.#lifecycle.stop(async () => {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      const socket = this.#socket;
      this.#socket = undefined;
      if (socket !== undefined) await closeUdpSocket(socket);
    });
  }

  /** Sends one beacon now (the schedule is unchanged); resolves when it left or failed. */
  sendNow(): Promise<void> {
    const socket = this.#socket;
    if (socket === undefined) return Promise.resolve();
    const options = this.#options;
    const datagram = sealDatagram(options.keyring.current, DatagramType.beacon, encodeBeacon(this.#source.next(options.lifetimeMs)));
    const destination = options.broadcastOnly ? options.broadcastAddress : options.group;
    return new Promise((resolve) => {
      socket.send(datagram, options.port, destination, (error) => {
        if (error === null || error === undefined) this.#sent += 1;
        else {
          this.#failed += 1;
          this.#logOnce(error);
        }
        resolve();
      });
    });
  }

  #tick(): void {
    if (this.#socket === undefined) return;
    this.#timer = setTimeout(() => this.#tick(), jitteredInterval(this.#options.intervalMs, this.#options.jitter));
    void this.sendNow();
  }

  #logOnce(error: Error): void {
    const code = (error as NodeJS.ErrnoException).code ?? error.message;
    if (this.#loggedErrors.has(code)) return;
    this.#loggedErrors.add(code);
    this.#logger.warn({ err: error }, 'cannot send discovery beacons (logged once per kind of error)');
  }
}
