/**
 * The Redis parts of a proxy in a fleet, built together from one set of options: the shared trust
 * store, the shared replay cache and the membership. The host starts the trust store and the replay
 * cache before anything listens (a proxy that cannot load its keys must not accept agents), announces
 * itself once its listeners are bound, and stops in the other order (leave first, so peers see it go).
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../shared/logger.js';
import { FleetMembership, type FleetMembershipEvents } from '../../shared/fleet/fleet-membership.js';
import { RedisReplayCache } from '../../shared/trust/redis/redis-replay-cache.js';
import { RedisTrustStore } from '../../shared/trust/redis/redis-trust-store.js';
import type { ResolvedFleetOptions } from './fleet-options.js';

/** Bound listeners as the host reports them. */
export interface FleetListeners {
  readonly http?: AddressInfo | undefined;
  readonly https?: AddressInfo | undefined;
  readonly control?: AddressInfo | undefined;
  readonly admin?: AddressInfo | undefined;
}

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '';
}

/** The URLs a proxy announces for its bound listeners (wildcard binds announce `advertiseHost`). */
export function advertisedUrls(listeners: FleetListeners, advertiseHost: string, controlTls: boolean): string[] {
  const url = (scheme: string, address: AddressInfo): string => {
    const host = isWildcard(address.address) ? advertiseHost : address.address;
    return `${scheme}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${address.port}`;
  };
  const urls: string[] = [];
  if (listeners.control !== undefined) urls.push(url(controlTls ? 'wss' : 'ws', listeners.control));
  if (listeners.http !== undefined) urls.push(url('http', listeners.http));
  if (listeners.https !== undefined) urls.push(url('https', listeners.https));
  if (listeners.admin !== undefined) urls.push(url('http', listeners.admin));
  return urls;
}

/** Trust store, replay cache and membership of one proxy in a fleet. Events: `node_added`, `node_removed`. */
export class ProxyFleet extends EventEmitter<FleetMembershipEvents> {
  readonly options: ResolvedFleetOptions;
  readonly trustStore: RedisTrustStore;
  readonly replayCache: RedisReplayCache;
  readonly membership: FleetMembership;

  /** Builds the three parts; nothing connects before {@link startTrust}. @throws {InvalidOptionError}. */
  constructor(options: ResolvedFleetOptions, logger: Logger) {
    super();
    this.options = options;
    const connection = options.connection;
    this.trustStore = new RedisTrustStore({
      ...connection,
      trustMaxStalenessMs: options.trustMaxStalenessMs,
      ...(options.streamBlockMs === undefined ? {} : { streamBlockMs: options.streamBlockMs }),
      logger,
    });
    this.replayCache = new RedisReplayCache({ ...connection, logger });
    this.membership = new FleetMembership({ ...connection, node: { id: options.nodeId }, ttlMs: options.membershipTtlMs, logger });
    this.membership.on('node_added', (node) => this.emit('node_added', node));
    this.membership.on('node_removed', (node, reason) => this.emit('node_removed', node, reason));
  }

  /** Loads the keys and connects the replay cache. @throws {TrustStoreError} when Redis cannot be reached. */
  async startTrust(): Promise<void> {
    await this.trustStore.start();
    await this.replayCache.start();
  }

  /** Announces this proxy with its bound listeners and pin, and starts listing peers. */
  async announce(listeners: FleetListeners, pin: string | undefined, controlTls: boolean): Promise<void> {
    await this.membership.start({ addresses: advertisedUrls(listeners, this.options.advertiseHost, controlTls), ...(pin === undefined ? {} : { pin }) });
  }

  /** Leaves the fleet, then closes every connection. Idempotent. */
  async stop(): Promise<void> {
    await this.membership.stop();
    await this.replayCache.stop();
    await this.trustStore.stop();
  }
}
