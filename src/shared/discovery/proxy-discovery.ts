/**
 * `ProxyDiscovery`: everything discovery does on a proxy, behind one start/stop: it announces the proxy
 * (beacons), answers probes, and listens for its peers' beacons, reporting them as `node_added`,
 * `node_changed` and `node_removed` (legiond's names). Its own beacons, which multicast loopback brings
 * back, are not reported; a peer announcing the same proxy id is logged as a conflict.
 *
 * A probe port already taken (a second proxy on one host) degrades, as bad config does elsewhere: the
 * proxy still beacons and listens, the responder is reported absent in `stats()`, and a warning is logged.
 */
import { EventEmitter } from 'node:events';
import { isProxyError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { Announcement } from './announcement.js';
import { BeaconReceiver } from './beacon-receiver.js';
import { BeaconSender } from './beacon-sender.js';
import { BeaconSource } from './beacon-source.js';
import { answerChannelProof } from './channel-proof-exchange.js';
import { resolveDiscoveryOptions, type DiscoveryOptions } from './discovery-options.js';
import type { DiscoveredProxy } from './peer-tracker.js';
import { ProbeResponder } from './probe-responder.js';
import type { DiscoveryCountersSnapshot } from './refusal-counters.js';
import { ServiceLifecycle } from './service-lifecycle.js';
import type { ClusterKeyring } from './cluster-keyring.js';
import type { TLSSocket } from 'node:tls';

/** Options of {@link ProxyDiscovery}: discovery options plus what to do besides beaconing. */
export interface ProxyDiscoveryOptions extends DiscoveryOptions {
  /** Listen for peer proxies' beacons (`node_added` / `node_removed`). Default true. */
  peers?: boolean;
  /** Answer unicast probes. Default true. */
  answerProbes?: boolean;
}

/** Counters of a proxy's discovery. */
export interface ProxyDiscoveryStats {
  readonly beacons: { readonly sent: number; readonly failed: number };
  /** Undefined when probes are not answered (disabled, or the port was taken). */
  readonly probes: DiscoveryCountersSnapshot | undefined;
  /** Undefined when peers are not listened for. */
  readonly peers: DiscoveryCountersSnapshot | undefined;
}

/** A proxy's announcements, probe answers and view of its peers. */
export class ProxyDiscovery extends EventEmitter {
  readonly #keyring: ClusterKeyring;
  readonly #source: BeaconSource;
  readonly #sender: BeaconSender;
  readonly #responder: ProbeResponder | undefined;
  readonly #receiver: BeaconReceiver | undefined;
  readonly #logger: Logger;
  readonly #lifecycle = new ServiceLifecycle('proxy discovery');
  #responderUp = false;

  /**
   * @param announcement this proxy's id, control URLs and pin.
   * @throws {InvalidOptionError}, {ClusterSecretError} for invalid options or announcement.
   */
  constructor(options: ProxyDiscoveryOptions, announcement: Announcement, logger: Logger = silentLogger()) {
    super();
    const resolved = resolveDiscoveryOptions(options);
    // Every part shares one keyring and one source, so counters order beacons and answers together.
    const shared = { ...options, secret: resolved.keyring };
    this.#keyring = resolved.keyring;
    this.#logger = logger.child({ component: 'discovery' });
    this.#source = new BeaconSource(announcement);
    this.#sender = new BeaconSender(shared, this.#source, logger);
    this.#responder = options.answerProbes === false ? undefined : new ProbeResponder(shared, this.#source, logger);
    this.#receiver = options.peers === false ? undefined : new BeaconReceiver(shared, logger);
    const self = (): string => this.#source.announcement.proxyId;
    this.#receiver?.on('up', (proxy: DiscoveredProxy) => {
      if (proxy.announcement.proxyId !== self()) this.emit('node_added', proxy);
    });
    this.#receiver?.on('changed', (proxy: DiscoveredProxy, previous: DiscoveredProxy) => {
      if (proxy.announcement.proxyId !== self()) this.emit('node_changed', proxy, previous);
      else if (proxy.announcement.pin !== this.#source.announcement.pin) {
        this.#logger.warn({ proxyId: self(), address: proxy.address }, 'another node announces this proxy id with another key');
      }
    });
    this.#receiver?.on('down', (proxy: DiscoveredProxy) => {
      if (proxy.announcement.proxyId !== self()) this.emit('node_removed', proxy);
    });
  }

  /** This proxy's current announcement. */
  get announcement(): Announcement {
    return this.#source.announcement;
  }

  /** The bound probe port (when answering), for tests with port 0. */
  get probePort(): number | undefined {
    return this.#responderUp ? this.#responder?.port : undefined;
  }

  /** The bound beacon port of the peer receiver, for tests with port 0. */
  get peerPort(): number | undefined {
    return this.#receiver?.port;
  }

  /** Peer proxies currently up (never this one). */
  peers(): DiscoveredProxy[] {
    const self = this.#source.announcement.proxyId;
    return (this.#receiver?.list() ?? []).filter((proxy) => proxy.announcement.proxyId !== self);
  }

  /** Replaces the announcement (new URLs, a renewed key); the next beacon carries it. */
  update(announcement: Announcement): void {
    this.#source.update(announcement);
  }

  /**
   * The proxy's side of the channel proof on an upgrade: its answer to the agent's proof (for the 101
   * response), or undefined when the agent's proof does not verify (refuse the upgrade).
   */
  answerChannelProof(socket: TLSSocket, agentProof: unknown): string | undefined {
    return answerChannelProof(this.#keyring, socket, agentProof);
  }

  /** Counters of every part. */
  stats(): ProxyDiscoveryStats {
    return Object.freeze({
      beacons: this.#sender.stats(),
      probes: this.#responderUp ? this.#responder?.stats() : undefined,
      peers: this.#receiver?.stats(),
    });
  }

  /** Listens for peers, then answers probes, then beacons (so the first beacon finds everything ready). Idempotent. */
  start(): Promise<void> {
    return this.#lifecycle.start(async () => {
      try {
        await this.#receiver?.start();
        if (this.#responder !== undefined) {
          try {
            await this.#responder.start();
            this.#responderUp = true;
          } catch (error) {
            if (!isProxyError(error, 'RP_ERR_LISTEN')) throw error;
            this.#logger.warn({ err: error }, 'probe responder not started (port taken?); beacons only');
          }
        }
        await this.#sender.start();
      } catch (error) {
        await this.#closeAll();
        throw error;
      }
    });
  }

  /** Stops beaconing first, then the rest. Idempotent; emits no `node_removed`. */
  stop(): Promise<void> {
    return this.#lifecycle.stop(() => this.#closeAll());
  }

  async #closeAll(): Promise<void> {
    await this.#sender.stop();
    await Promise.all([this.#responder?.stop(), this.#receiver?.stop()]);
  }
}
