/**
 * `ProbeResponder`: a proxy's answer to unicast probes, for networks without multicast (wherez's and
 * legiond's way). A challenge is itself a sealed datagram, so only a holder of the cluster secret can make
 * a proxy answer (an outsider cannot even learn that a proxy listens), and an answer is the same size as
 * a challenge (no amplification). A challenge must be fresh and is answered once: a recorded one replayed
 * is refused. The answer carries the proxy's next beacon message, the challenge nonce and a MAC over both
 * (probe-messages.ts), sealed with the key the challenge came with.
 */
import type dgram from 'node:dgram';
import { silentLogger, type Logger } from '../logger.js';
import { resolveDiscoveryOptions, type DiscoveryOptions, type ResolvedDiscoveryOptions } from './discovery-options.js';
import type { BeaconSource } from './beacon-source.js';
import { decodeChallenge, encodeAnswer } from './probe-messages.js';
import { DiscoveryCounters, type DiscoveryCountersSnapshot, type RefusalReason } from './refusal-counters.js';
import { DatagramType, openDatagram, sealDatagram } from './sealed-datagram.js';
import { ServiceLifecycle } from './service-lifecycle.js';
import { SourceRateLimiter } from './source-rate-limiter.js';
import { bindUdpSocket, closeUdpSocket } from './udp-socket.js';

/** Most challenge nonces remembered (for replay refusal) at once. */
export const MAX_REMEMBERED_CHALLENGES = 4096;

/** Result of {@link ProbeResponder.handle}: the answer to send, or why there is none. */
export type ProbeHandling = { readonly answer: Buffer } | { readonly refused: RefusalReason };

/** Answers sealed probe challenges. */
export class ProbeResponder {
  readonly #options: ResolvedDiscoveryOptions;
  readonly #source: BeaconSource;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #lifecycle = new ServiceLifecycle('probe responder');
  readonly #limiter: SourceRateLimiter;
  readonly #counters = new DiscoveryCounters();
  /** Nonce (hex) to the wall-clock time after which a replay of it is refused as stale anyway. */
  readonly #seen = new Map<string, number>();
  #socket: dgram.Socket | undefined;

  /** @throws {InvalidOptionError}, {ClusterSecretError} for invalid options. */
  constructor(options: DiscoveryOptions, source: BeaconSource, logger: Logger = silentLogger(), now: () => number = Date.now) {
    this.#options = resolveDiscoveryOptions(options);
    this.#source = source;
    this.#logger = logger.child({ component: 'discovery-probe-responder' });
    this.#now = now;
    this.#limiter = new SourceRateLimiter(this.#options.rateLimits);
  }

  /** The bound UDP port; undefined before start. */
  get port(): number | undefined {
    return this.#socket?.address().port;
  }

  /** Counters of received, answered (accepted) and refused challenges. */
  stats(): DiscoveryCountersSnapshot {
    return this.#counters.snapshot();
  }

  /** Binds `interface` (default all) on `probePort`. Idempotent. */
  start(): Promise<void> {
    return this.#lifecycle.start(async () => {
      const socket = await bindUdpSocket({ address: this.#options.interface ?? '0.0.0.0', port: this.#options.probePort, reuseAddr: false, purpose: 'the probe responder' });
      socket.on('error', (error) => this.#logger.warn({ err: error }, 'discovery probe socket error'));
      socket.on('message', (datagram, remote) => {
        const result = this.handle(datagram, remote.address);
        if ('answer' in result) socket.send(result.answer, remote.port, remote.address, () => undefined);
      });
      this.#socket = socket;
    });
  }

  /** Closes the socket. Idempotent. */
  stop(): Promise<void> {
    return this.#lifecycle.stop(async () => {
      const socket = this.#socket;
      this.#socket = undefined;
      this.#seen.clear();
      if (socket !== undefined) await closeUdpSocket(socket);
    });
  }

  /** Judges one datagram from `address` and builds the answer (counted either way). */
  handle(datagram: Buffer, address: string): ProbeHandling {
    this.#counters.received();
    const result = this.#judge(datagram, address);
    if ('answer' in result) this.#counters.accepted();
    else this.#counters.refused(result.refused);
    return result;
  }

  #judge(datagram: Buffer, address: string): ProbeHandling {
    if (!this.#limiter.allow(address)) return { refused: 'rate_limited' };
    const opened = openDatagram(this.#options.keyring, datagram);
    if (!opened.ok) return { refused: opened.reason };
    if (opened.type !== DatagramType.challenge) return { refused: 'wrong_type' };
    const challenge = decodeChallenge(opened.body);
    if (challenge === undefined) return { refused: 'malformed' };
    const now = this.#now();
    const { maxClockSkewMs, probeTimeoutMs } = this.#options;
    if (challenge.issuedAt + maxClockSkewMs + probeTimeoutMs < now) return { refused: 'expired' };
    if (challenge.issuedAt - maxClockSkewMs > now) return { refused: 'not_yet_valid' };
    const nonce = challenge.nonce.toString('hex');
    if (this.#seen.has(nonce)) return { refused: 'replayed' };
    if (!this.#remember(nonce, challenge.issuedAt + 2 * maxClockSkewMs + probeTimeoutMs, now)) return { refused: 'rate_limited' };
    const beacon = this.#source.next(this.#options.lifetimeMs);
    return { answer: sealDatagram(opened.keys, DatagramType.answer, encodeAnswer(opened.keys.probeKey, challenge.nonce, beacon)) };
  }

  #remember(nonce: string, until: number, now: number): boolean {
    if (this.#seen.size >= MAX_REMEMBERED_CHALLENGES) {
      for (const [seen, expiry] of this.#seen) if (expiry < now) this.#seen.delete(seen);
    }
    // Still full of live nonces: a flood from secret holders; refusing is safer than forgetting a nonce.
    if (this.#seen.size >= MAX_REMEMBERED_CHALLENGES) return false;
    this.#seen.set(nonce, until);
    return true;
  }
}
