/**
 * `Prober`: an agent's way to find proxies where multicast does not pass. Each round sends one sealed
 * challenge with a fresh random nonce to every target address (probe-targets.ts) and accepts, within
 * `probeTimeoutMs`, only answers that open with the keyring, echo a pending nonce (each is used once) and
 * carry a valid MAC over the nonce and everything announced. Accepted answers go through the same
 * {@link PeerTracker} as beacons, so freshness, order and up/down are decided the same way.
 *
 * `probe()` runs one round; `start()` runs one per jittered interval. Events: `up`, `changed`, `down`.
 */
import { randomBytes } from 'node:crypto';
import type dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { NotRunningError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { jitteredInterval } from './beacon-sender.js';
import { resolveDiscoveryOptions, type DiscoveryOptions, type ResolvedDiscoveryOptions } from './discovery-options.js';
import { PeerTracker, type DiscoveredProxy } from './peer-tracker.js';
import { CHALLENGE_NONCE_BYTES, decodeAnswer, encodeChallenge } from './probe-messages.js';
import { resolveProbeTargets } from './probe-targets.js';
import { DiscoveryCounters, type DiscoveryCountersSnapshot, type RefusalReason } from './refusal-counters.js';
import { DatagramType, openDatagram, sealDatagram } from './sealed-datagram.js';
import { ServiceLifecycle } from './service-lifecycle.js';
import { SourceRateLimiter } from './source-rate-limiter.js';
import { bindUdpSocket, closeUdpSocket } from './udp-socket.js';

/** Prober options: discovery options plus what to probe. */
export interface ProberOptions extends DiscoveryOptions {
  /** IPv4 addresses and CIDR blocks (at most /24 each, 256 addresses in all). Required. */
  probe: string | readonly string[];
}

interface Round {
  readonly pending: Map<string, string>;
  readonly found: DiscoveredProxy[];
  readonly done: () => void;
  readonly result: Promise<DiscoveredProxy[]>;
}

/** Probes a list of addresses for proxies of the cluster. */
export class Prober extends EventEmitter {
  readonly #options: ResolvedDiscoveryOptions;
  readonly #targets: readonly string[];
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #lifecycle = new ServiceLifecycle('prober');
  readonly #tracker: PeerTracker;
  readonly #limiter: SourceRateLimiter;
  readonly #counters = new DiscoveryCounters();
  #opening: Promise<dgram.Socket> | undefined;
  #round: Round | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** @throws {InvalidOptionError}, {ClusterSecretError} for invalid options. */
  constructor(options: ProberOptions, logger: Logger = silentLogger(), now: () => number = Date.now) {
    super();
    this.#options = resolveDiscoveryOptions(options);
    this.#targets = Object.freeze(resolveProbeTargets(options.probe));
    this.#logger = logger.child({ component: 'discovery-prober' });
    this.#now = now;
    this.#limiter = new SourceRateLimiter(this.#options.rateLimits);
    this.#tracker = new PeerTracker({ maxProxies: this.#options.maxProxies, maxClockSkewMs: this.#options.maxClockSkewMs, now });
    for (const event of ['up', 'changed', 'down'] as const) this.#tracker.on(event, (...args: unknown[]) => this.emit(event, ...args));
  }

  /** The addresses probed each round. */
  get targets(): readonly string[] {
    return this.#targets;
  }

  /** Proxies currently up. */
  list(): DiscoveredProxy[] {
    return this.#tracker.list();
  }

  /** Counters of received, accepted and refused answers. */
  stats(): DiscoveryCountersSnapshot {
    return this.#counters.snapshot();
  }

  /** Probes now and then once per jittered interval. Idempotent. */
  start(): Promise<void> {
    return this.#lifecycle.start(async () => {
      await this.#open();
      const loop = (): void => {
        this.#timer = setTimeout(loop, jitteredInterval(this.#options.intervalMs, this.#options.jitter));
        this.probe().catch((error: unknown) => this.#logger.warn({ err: error }, 'probe round failed'));
      };
      loop();
    });
  }

  /** Stops probing, closes the socket, clears every timer. Idempotent; emits no `down`. */
  stop(): Promise<void> {
    return this.#lifecycle.stop(async () => {
      this.#closed = true;
      clearTimeout(this.#timer);
      this.#round?.done();
      this.#tracker.stop();
      const opening = this.#opening;
      this.#opening = undefined;
      const socket = await opening?.catch(() => undefined);
      if (socket !== undefined) await closeUdpSocket(socket);
    });
  }

  /**
   * Runs one round: challenges every target, resolves with the proxies whose answer was accepted once
   * every target answered or `probeTimeoutMs` passed. A round already running is joined, not doubled.
   */
  async probe(): Promise<DiscoveredProxy[]> {
    if (this.#closed) return [];
    if (this.#round !== undefined) return this.#round.result;
    const socket = await this.#open();
    // Another call may have started a round, or stop() run, while the socket was opening.
    const joined = this.#round as Round | undefined;
    if (joined !== undefined) return joined.result;
    if (this.#closed) return [];
    const found: DiscoveredProxy[] = [];
    const pending = new Map<string, string>();
    let finish: () => void = () => undefined;
    const result = new Promise<DiscoveredProxy[]>((resolve) => {
      finish = () => resolve(found);
    });
    const timer = setTimeout(() => round.done(), this.#options.probeTimeoutMs);
    const round: Round = {
      pending,
      found,
      result,
      done: () => {
        clearTimeout(timer);
        if (this.#round === round) this.#round = undefined;
        finish();
      },
    };
    this.#round = round;
    const keys = this.#options.keyring.current;
    for (const address of this.#targets) {
      const nonce = randomBytes(CHALLENGE_NONCE_BYTES);
      pending.set(nonce.toString('hex'), address);
      const datagram = sealDatagram(keys, DatagramType.challenge, encodeChallenge({ nonce, issuedAt: this.#now() }));
      socket.send(datagram, this.#options.probePort, address, (error) => {
        if (error !== null && error !== undefined) this.#logger.debug({ err: error, address }, 'probe not sent');
      });
    }
    return result;
  }

  /** Handles one datagram from `address`: undefined when accepted, else the refusal reason (counted). */
  handle(datagram: Buffer, address: string): RefusalReason | undefined {
    this.#counters.received();
    const reason = this.#judge(datagram, address);
    if (reason === undefined) this.#counters.accepted();
    else this.#counters.refused(reason);
    return reason;
  }

  #judge(datagram: Buffer, address: string): RefusalReason | undefined {
    if (!this.#limiter.allow(address)) return 'rate_limited';
    const opened = openDatagram(this.#options.keyring, datagram);
    if (!opened.ok) return opened.reason;
    if (opened.type !== DatagramType.answer) return 'wrong_type';
    const answer = decodeAnswer(opened.keys.probeKey, opened.body);
    if (answer === 'malformed') return 'malformed';
    if (answer === 'bad_mac') return 'unsolicited';
    const round = this.#round;
    const nonce = answer.challengeNonce.toString('hex');
    if (round === undefined || !round.pending.has(nonce)) return 'unsolicited';
    round.pending.delete(nonce);
    const refused = this.#tracker.consider(answer.beacon, address, 'probe', opened.keys.keyId.toString('hex'));
    if (refused === undefined) {
      const proxy = this.#tracker.list().find((p) => p.announcement.proxyId === answer.beacon.announcement.proxyId);
      if (proxy !== undefined) round.found.push(proxy);
    }
    if (round.pending.size === 0) round.done();
    return refused;
  }

  #open(): Promise<dgram.Socket> {
    if (this.#closed) return Promise.reject(new NotRunningError('the prober is stopped'));
    this.#opening ??= bindUdpSocket({ address: this.#options.interface ?? '0.0.0.0', port: 0, reuseAddr: false, purpose: 'the prober' }).then((socket) => {
      socket.on('error', (error) => this.#logger.warn({ err: error }, 'discovery prober socket error'));
      socket.on('message', (datagram, remote) => this.handle(datagram, remote.address));
      return socket;
    });
    return this.#opening;
  }
}
