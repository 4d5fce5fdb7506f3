/**
 * Fleet membership on Redis: each proxy announces itself (id, addresses, pin, start time) with a short
 * TTL and refreshes it every `refreshMs`; every refresh also lists the live announcements, and the
 * difference with the previous list is emitted as legiond's `node_added` / `node_removed` for peers.
 *
 * Expiry is judged by Redis's own clock (`TIME` inside the script), so proxies with skewed clocks agree
 * on who is alive. A proxy that stops deletes its announcement, so its peers see it leave at their next
 * refresh; one that dies disappears after the TTL. While Redis is out of reach the last known list
 * stays (membership is informational: routing never depends on it) and `status().connected` says so.
 */
import { EventEmitter } from 'node:events';
import { InvalidOptionError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { closeRedis, connectRedis, type RedisClient } from '../redis/redis-connection.js';
import { redactRedisUrl, resolveRedisConnectionOptions, type RedisConnectionOptions, type ResolvedRedisConnectionOptions } from '../redis/redis-options.js';
import { byNodeId, parseFleetNode, parseFleetNodeJson, sameNode, type FleetNode } from './fleet-node.js';

/** Default lifetime of an announcement, in milliseconds. */
export const DEFAULT_FLEET_TTL_MS = 5000;
/** Most nodes listed. */
export const MAX_FLEET_NODES = 1000;

/** Why a peer left the list. */
export type NodeRemovedReason = 'gone' | 'restarted';

/** Events of {@link FleetMembership} (legiond's names). */
export interface FleetMembershipEvents {
  node_added: [node: FleetNode];
  node_removed: [node: FleetNode, reason: NodeRemovedReason];
}

/** Options of {@link FleetMembership}. */
export interface FleetMembershipOptions extends RedisConnectionOptions {
  /** This proxy: id and what it announces (`startedAt` is set by `start()`). */
  node: { id: string; addresses?: readonly string[]; pin?: string };
  /** Lifetime of an announcement, in milliseconds, 300 to 60000. Default 5000. */
  ttlMs?: number;
  /** Refresh period, in milliseconds, 100 up to a third of `ttlMs`. Default a third of `ttlMs`. */
  refreshMs?: number;
  /** Logger. Default silent. */
  logger?: Logger;
  /** Clock for `startedAt`, for tests. Default `Date.now`. */
  now?: () => number;
}

/**
 * Announces this proxy and lists its live peers. KEYS: the node set, this node's key. ARGV: id, JSON,
 * TTL (ms), most nodes, node key prefix.
 */
const ANNOUNCE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[4]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local value = redis.call('GET', ARGV[5] .. id)
  if value then table.insert(out, value) end
end
return out
`;

function integer(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < min || resolved > max) {
    throw new InvalidOptionError(`${name}: expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return resolved;
}

/** This proxy's announcement in a fleet, and the list of its peers. */
export class FleetMembership extends EventEmitter<FleetMembershipEvents> {
  readonly #connection: ResolvedRedisConnectionOptions;
  #self: { id: string; addresses: readonly string[]; pin?: string };
  readonly #ttlMs: number;
  readonly #refreshMs: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #setKey: string;
  readonly #nodeKeyPrefix: string;
  #node: FleetNode | undefined;
  #peers = new Map<string, FleetNode>();
  #client: RedisClient | undefined;
  #timer: NodeJS.Timeout | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #refreshing: Promise<void> = Promise.resolve();
  #connected = false;
  #rejected = 0;

  /** Validates the options; nothing connects before {@link start}. @throws {InvalidOptionError}. */
  constructor(options: FleetMembershipOptions) {
    super();
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('fleet: expected { url, node }');
    this.#connection = resolveRedisConnectionOptions(options, 'fleet.redis');
    const probe = parseFleetNode({ ...options.node, addresses: options.node?.addresses ?? [], startedAt: new Date(0).toISOString() });
    if (typeof probe === 'string') throw new InvalidOptionError(`fleet.node: ${probe}`);
    this.#self = { id: probe.id, addresses: probe.addresses, ...(probe.pin === undefined ? {} : { pin: probe.pin }) };
    this.#ttlMs = integer('fleet.ttlMs', options.ttlMs, DEFAULT_FLEET_TTL_MS, 300, 60_000);
    this.#refreshMs = integer('fleet.refreshMs', options.refreshMs, Math.floor(this.#ttlMs / 3), 100, Math.floor(this.#ttlMs / 3));
    this.#logger = (options.logger ?? silentLogger()).child({ component: 'fleet', nodeId: probe.id, redis: redactRedisUrl(this.#connection.url) });
    this.#now = options.now ?? Date.now;
    this.#setKey = `${this.#connection.prefix}fleet:nodes`;
    this.#nodeKeyPrefix = `${this.#connection.prefix}fleet:node:`;
  }

  /** This proxy's id. */
  get id(): string {
    return this.#self.id;
  }

  /** This proxy's announcement (undefined before start). */
  get self(): FleetNode | undefined {
    return this.#node;
  }

  /** Live peers (not this proxy), sorted by id; the last known list while Redis is out of reach. */
  peers(): FleetNode[] {
    return [...this.#peers.values()].sort(byNodeId);
  }

  /** Every node including this one, sorted by id. */
  nodes(): FleetNode[] {
    return [...this.#peers.values(), ...(this.#node === undefined ? [] : [this.#node])].sort(byNodeId);
  }

  /** Link state and counters, for the status API and metrics. */
  status(): { connected: boolean; peers: number; rejectedAnnouncements: number } {
    return { connected: this.#connected, peers: this.#peers.size, rejectedAnnouncements: this.#rejected };
  }

  /**
   * Connects, announces this proxy, lists its peers (emitting `node_added` for each) and keeps
   * refreshing. `announcement` replaces the addresses and pin given at construction (a proxy knows its
   * bound ports only once it listens). Idempotent.
   *
   * @throws {InvalidOptionError} for an invalid announcement; {@link TrustStoreError} when Redis cannot be reached.
   */
  start(announcement?: { addresses?: readonly string[]; pin?: string }): Promise<void> {
    if (this.#stopping !== undefined) return Promise.reject(new InvalidOptionError('fleet membership was stopped; create a new one'));
    if (announcement !== undefined && this.#starting === undefined) {
      const probe = parseFleetNode({ ...this.#self, ...announcement, startedAt: new Date(0).toISOString() });
      if (typeof probe === 'string') return Promise.reject(new InvalidOptionError(`fleet announcement: ${probe}`));
      this.#self = { id: probe.id, addresses: probe.addresses, ...(probe.pin === undefined ? {} : { pin: probe.pin }) };
    }
    this.#starting ??= this.#start().catch((error: unknown) => {
      this.#starting = undefined;
      throw error;
    });
    return this.#starting;
  }

  /** Stops refreshing, removes this proxy's announcement (best effort) and disconnects. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Announces and lists now (also done every `refreshMs`); resolves when done, never rejects. */
  refresh(): Promise<void> {
    this.#refreshing = this.#refreshing.then(() => this.#refresh());
    return this.#refreshing;
  }

  async #start(): Promise<void> {
    this.#client = await connectRedis(this.#connection, this.#logger);
    this.#node = Object.freeze({ ...this.#self, startedAt: new Date(this.#now()).toISOString() });
    await this.refresh();
    this.#schedule();
  }

  async #stop(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#refreshing;
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined && this.#connected) {
      try {
        await client.multi().zRem(this.#setKey, this.#self.id).del(`${this.#nodeKeyPrefix}${this.#self.id}`).exec();
      } catch (error) {
        this.#logger.warn({ err: (error as Error).message }, 'could not remove this proxy from the fleet list; it expires by itself');
      }
    }
    closeRedis(client);
  }

  #schedule(): void {
    if (this.#stopping !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.refresh().then(() => this.#schedule());
    }, this.#refreshMs);
  }

  async #refresh(): Promise<void> {
    const client = this.#client;
    if (client === undefined || this.#node === undefined) return;
    let reply: unknown;
    try {
      reply = await client.eval(ANNOUNCE_SCRIPT, {
        keys: [this.#setKey, `${this.#nodeKeyPrefix}${this.#self.id}`],
        arguments: [this.#self.id, this.#stopping === undefined ? JSON.stringify(this.#node) : '', String(this.#ttlMs), String(MAX_FLEET_NODES), this.#nodeKeyPrefix],
      });
    } catch (error) {
      if (this.#connected) this.#logger.warn({ err: (error as Error).message }, 'fleet membership: Redis unreachable; keeping the last known peers');
      this.#connected = false;
      return;
    }
    this.#connected = true;
    if (!Array.isArray(reply)) return;
    const next = new Map<string, FleetNode>();
    for (const item of reply as unknown[]) {
      const node = parseFleetNodeJson(item);
      if (typeof node === 'string') {
        this.#rejected += 1;
        this.#logger.error({ reason: node }, 'invalid fleet announcement in Redis ignored');
        continue;
      }
      if (node.id !== this.#self.id) next.set(node.id, node);
    }
    const previous = this.#peers;
    this.#peers = next;
    for (const [id, old] of previous) {
      const now = next.get(id);
      if (now === undefined) this.#emitSafe('node_removed', old, 'gone');
      else if (!sameNode(old, now)) this.#emitSafe('node_removed', old, 'restarted');
    }
    for (const [id, now] of next) {
      const old = previous.get(id);
      if (old === undefined || !sameNode(old, now)) this.#emitSafe('node_added', now);
    }
  }

  #emitSafe(event: 'node_added', node: FleetNode): void;
  #emitSafe(event: 'node_removed', node: FleetNode, reason: NodeRemovedReason): void;
  #emitSafe(event: 'node_added' | 'node_removed', node: FleetNode, reason?: NodeRemovedReason): void {
    try {
      if (event === 'node_added') this.emit('node_added', node);
      else this.emit('node_removed', node, reason ?? 'gone');
    } catch (error) {
      this.#logger.error({ err: error, event, node: node.id }, 'fleet membership listener threw');
    }
  }
}
