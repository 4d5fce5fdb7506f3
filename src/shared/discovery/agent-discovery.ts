/**
 * `AgentDiscovery`: everything discovery does on an agent, behind one start/stop. It listens for beacons
 * and, when given addresses to probe, probes them too; a proxy is up while either channel sees it and down
 * when neither does. Events: `proxy_up`, `proxy_changed` (proxy, previous), `proxy_down` (DiscoveredProxy).
 *
 * What it reports is a hint. The agent that acts on `proxy_up` still authenticates the proxy on TLS (its
 * configured pin or CA, or the channel proof, {@link AgentDiscovery.channelProof} and
 * {@link AgentDiscovery.verifyChannelProof}) before it sends anything, and acts on `proxy_down` only once
 * the proxy's own session is gone too: a lost beacon must never close a healthy session.
 */
import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { InvalidOptionError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { sameAnnouncement } from './announcement.js';
import { BeaconReceiver } from './beacon-receiver.js';
import { agentChannelProof, verifyProxyChannelProof } from './channel-proof-exchange.js';
import { deriveChannelProof, exportChannelKeyingMaterial } from './channel-proof.js';
import type { ChannelProofClient } from '../control-client/client-options.js';
import type { ClusterKeyring } from './cluster-keyring.js';
import { resolveDiscoveryOptions, type DiscoveryOptions } from './discovery-options.js';
import type { DiscoveredProxy, DiscoveryChannel } from './peer-tracker.js';
import { Prober } from './prober.js';
import type { DiscoveryCountersSnapshot } from './refusal-counters.js';
import { ServiceLifecycle } from './service-lifecycle.js';

/** Options of {@link AgentDiscovery}. */
export interface AgentDiscoveryOptions extends DiscoveryOptions {
  /** Listen for beacons. Default true. */
  beacons?: boolean;
  /** IPv4 addresses and CIDR blocks (at most /24 each) to probe every interval. Default none. */
  probe?: string | readonly string[];
}

/** Counters of an agent's discovery. */
export interface AgentDiscoveryStats {
  readonly beacons: DiscoveryCountersSnapshot | undefined;
  readonly probes: DiscoveryCountersSnapshot | undefined;
}

/** An agent's view of the cluster's proxies. */
export class AgentDiscovery extends EventEmitter {
  readonly #keyring: ClusterKeyring;
  readonly #receiver: BeaconReceiver | undefined;
  readonly #prober: Prober | undefined;
  readonly #lifecycle = new ServiceLifecycle('agent discovery');
  /** Proxy id to the channels that currently see it, and the latest sighting. */
  readonly #seen = new Map<string, { channels: Set<DiscoveryChannel>; proxy: DiscoveredProxy }>();

  /** @throws {InvalidOptionError}, {ClusterSecretError} for invalid options. */
  constructor(options: AgentDiscoveryOptions, logger: Logger = silentLogger()) {
    super();
    const resolved = resolveDiscoveryOptions(options);
    this.#keyring = resolved.keyring;
    const shared = { ...options, secret: resolved.keyring };
    this.#receiver = options.beacons === false ? undefined : new BeaconReceiver(shared, logger);
    this.#prober = options.probe === undefined ? undefined : new Prober({ ...shared, probe: options.probe }, logger);
    if (this.#receiver === undefined && this.#prober === undefined) {
      throw new InvalidOptionError('discovery: with beacons: false, give addresses to probe (probe: [...])');
    }
    for (const [channel, source] of [['beacon', this.#receiver], ['probe', this.#prober]] as const) {
      source?.on('up', (proxy: DiscoveredProxy) => this.#up(channel, proxy));
      source?.on('changed', (proxy: DiscoveredProxy) => this.#up(channel, proxy));
      source?.on('down', (proxy: DiscoveredProxy) => this.#down(channel, proxy));
    }
  }

  /** The bound beacon port (useful with port 0 in tests). */
  get beaconPort(): number | undefined {
    return this.#receiver?.port;
  }

  /** Proxies currently up through either channel. */
  proxies(): DiscoveredProxy[] {
    return [...this.#seen.values()].map((entry) => entry.proxy);
  }

  /** Counters of both channels. */
  stats(): AgentDiscoveryStats {
    return Object.freeze({ beacons: this.#receiver?.stats(), probes: this.#prober?.stats() });
  }

  /** The agent's channel proof for the upgrade request on `socket` (TLS established). */
  channelProof(socket: TLSSocket): string {
    return agentChannelProof(this.#keyring, socket);
  }

  /** True when the proxy's answer in the 101 response proves the secret on `socket`. */
  verifyChannelProof(socket: TLSSocket, proxyProof: unknown): boolean {
    return verifyProxyChannelProof(this.#keyring, socket, proxyProof);
  }

  /**
   * The channel proof to use with one discovered proxy: the agent proves the secret with the key that
   * proxy's own beacon was sealed with (it surely holds that one), whatever the order a rotation is rolled
   * out in, and accepts the proxy's answer under any key of the ring.
   */
  channelProofFor(proxy: DiscoveredProxy): ChannelProofClient {
    const keyring = this.#keyring;
    const keys = keyring.find(Buffer.from(proxy.keyId, 'hex'))[0] ?? keyring.current;
    return Object.freeze({
      channelProof: (socket: TLSSocket) => deriveChannelProof(keys, exportChannelKeyingMaterial(socket), 'agent'),
      verifyChannelProof: (socket: TLSSocket, proxyProof: unknown) => verifyProxyChannelProof(keyring, socket, proxyProof),
    });
  }

  /** Runs one probe round now (when probing), e.g. at start-up before the first interval. */
  async probeNow(): Promise<DiscoveredProxy[]> {
    return (await this.#prober?.probe()) ?? [];
  }

  /** Starts listening and probing. Idempotent. */
  start(): Promise<void> {
    return this.#lifecycle.start(async () => {
      try {
        await this.#receiver?.start();
        await this.#prober?.start();
      } catch (error) {
        await this.#closeAll();
        throw error;
      }
    });
  }

  /** Stops both channels. Idempotent; emits no `proxy_down`. */
  stop(): Promise<void> {
    return this.#lifecycle.stop(() => this.#closeAll());
  }

  async #closeAll(): Promise<void> {
    await Promise.all([this.#receiver?.stop(), this.#prober?.stop()]);
    this.#seen.clear();
  }

  #up(channel: DiscoveryChannel, proxy: DiscoveredProxy): void {
    const id = proxy.announcement.proxyId;
    const entry = this.#seen.get(id);
    if (entry === undefined) {
      this.#seen.set(id, { channels: new Set([channel]), proxy });
      this.emit('proxy_up', proxy);
      return;
    }
    entry.channels.add(channel);
    const previous = entry.proxy;
    entry.proxy = proxy;
    if (!sameAnnouncement(previous.announcement, proxy.announcement)) {
      this.emit('proxy_changed', proxy, previous);
    }
  }

  #down(channel: DiscoveryChannel, proxy: DiscoveredProxy): void {
    const id = proxy.announcement.proxyId;
    const entry = this.#seen.get(id);
    if (entry === undefined) return;
    entry.channels.delete(channel);
    if (entry.channels.size > 0) return;
    this.#seen.delete(id);
    this.emit('proxy_down', entry.proxy);
  }
}
