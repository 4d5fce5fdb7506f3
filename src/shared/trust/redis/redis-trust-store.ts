/**
 * The trust store of a fleet: every proxy holds the same keys, kept in Redis.
 *
 * Writes (`add`/`remove`, from any proxy or sysadmin tool) are one Lua script each: the key hash, a
 * version counter and an entry on a change stream move together, or not at all. Each proxy loads a
 * consistent snapshot, then follows the stream from the last entry it applied with a blocking `XREAD`
 * on a connection of its own, so a change reaches every proxy in milliseconds and a proxy that was cut
 * off catches up in order when it is back (revocations included). Every change carries the version it
 * made; a version that skips one means the stream was trimmed past this proxy (or Redis lost data), and
 * the proxy re-reads every key. An idle check of the version and of an epoch string (recreated when
 * Redis loses its data) repairs any other divergence within one read interval. There is no pub/sub:
 * the stream itself wakes the readers, and a missed wake-up cannot lose a revocation.
 *
 * `get()` is synchronous, from the loaded view, so a token check never waits on Redis. When Redis is
 * out of reach the view keeps serving for at most `trustMaxStalenessMs`; after that `get()` returns
 * nothing and `health()` is not ok (a revoked key must not stay trusted for as long as Redis is down),
 * until a read succeeds again. Entries are validated like the trust-store file; a malformed or tampered
 * entry is ignored, logged and counted (`stats.rejectedEntries`), never trusted.
 */
import { randomBytes } from 'node:crypto';
import { InvalidOptionError, ProxyError, TrustStoreError } from '../../errors.js';
import { isValidAgentId } from '../../identity/agent-id.js';
import type { Logger } from '../../logger.js';
import { closeRedis, connectRedis, type RedisClient } from '../../redis/redis-connection.js';
import { redactRedisUrl } from '../../redis/redis-options.js';
import { KeyedTrustStore } from '../keyed-trust-store.js';
import type { AddKeyOptions, AddManyEntry, TrustStore, TrustStoreHealth } from '../trust-store.js';
import { buildTrustedKey, type AddKeyInput, type TrustedKey } from '../trusted-key.js';
import { redisTrustKeys, type RedisTrustKeys } from './redis-trust-keys.js';
import { resolveRedisTrustStoreOptions, STREAM_READ_COUNT, type RedisTrustStoreOptions, type ResolvedRedisTrustStoreOptions } from './redis-trust-store-options.js';
import { ADD_SCRIPT, REMOVE_SCRIPT, scriptKeys } from './redis-trust-scripts.js';
import { readTrustSnapshot } from './redis-trust-snapshot.js';
import { redisWriteError } from './redis-write-error.js';
import { parseTrustedKeyJson, serializeTrustedKey } from './stored-trust-entry.js';
import { compareStreamIds, isStreamId, STREAM_START } from './stream-id.js';

/** Counters of a {@link RedisTrustStore}, for metrics. */
export interface RedisTrustStoreStats {
  /** Entries (hash values or stream entries) that failed validation and were not trusted. */
  rejectedEntries: number;
  /** Full re-reads of every key (start, trimmed stream, lost data, tampered stream entry). */
  fullReloads: number;
  /** Changes applied from the stream, in order. */
  appliedChanges: number;
  /** Times the link to Redis failed (each outage counts once). */
  disconnects: number;
}

/** A snapshot of the store's link to Redis, for the status API. */
export interface RedisTrustStoreStatus {
  readonly connected: boolean;
  /** Store version applied here. */
  readonly version: number;
  /** Milliseconds since the store was last known current, or undefined before the first load. */
  readonly syncAgeMs: number | undefined;
  readonly stale: boolean;
  readonly trustMaxStalenessMs: number;
  /** Last link error, if the link is down. */
  readonly lastError: string | undefined;
}

/** One change as read from the stream. */
interface StreamChange {
  readonly id: string;
  readonly message: Readonly<Record<string, string>>;
}

const RETRY_DELAY_MS = 250;

/** Trusted keys shared by a fleet through Redis. Events: `added(key)`, `removed(key)`. */
export class RedisTrustStore extends KeyedTrustStore implements TrustStore {
  /** Always `redis`. */
  readonly kind = 'redis' as const;
  readonly #options: ResolvedRedisTrustStoreOptions;
  readonly #names: RedisTrustKeys;
  readonly #logger: Logger;
  readonly #stats: RedisTrustStoreStats = { rejectedEntries: 0, fullReloads: 0, appliedChanges: 0, disconnects: 0 };
  #version = 0;
  #lastId = STREAM_START;
  #epoch: string | undefined;
  #freshAt: number | undefined;
  #linkDown = false;
  #lastError: string | undefined;
  #client: RedisClient | undefined;
  #reader: RedisClient | undefined;
  #running = false;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #readLoop: Promise<void> = Promise.resolve();
  #retryTimer: NodeJS.Timeout | undefined;
  #wakeRetry: (() => void) | undefined;

  /** Validates the options; nothing connects before {@link start}. @throws {InvalidOptionError}. */
  constructor(options: RedisTrustStoreOptions) {
    const resolved = resolveRedisTrustStoreOptions(options);
    super({ logger: resolved.logger, now: resolved.now });
    this.#options = resolved;
    this.#names = redisTrustKeys(resolved.connection.prefix);
    this.#logger = this.logger.child({ backend: 'redis', redis: redactRedisUrl(resolved.connection.url) });
  }

  /** Counters (live object; read-only for callers). */
  get stats(): Readonly<RedisTrustStoreStats> {
    return this.#stats;
  }

  /** The staleness bound, in milliseconds. */
  get trustMaxStalenessMs(): number {
    return this.#options.trustMaxStalenessMs;
  }

  /**
   * The key with this id, or undefined (also for an invalid id, before start, and once stale: a key
   * revoked elsewhere may still be in a stale view). `list()` and `size` keep showing the last known keys.
   */
  override get(id: string): TrustedKey | undefined {
    return this.#isStale() ? undefined : super.get(id);
  }

  /** Whether the loaded keys may be used: started, and in contact with Redis within the staleness bound. */
  health(): TrustStoreHealth {
    if (!this.#running) return { ok: false, reason: 'trust store not started' };
    if (!this.#isStale()) return { ok: true };
    const age = this.#freshAt === undefined ? 'ever' : `${this.#options.now() - this.#freshAt} ms`;
    return {
      ok: false,
      reason: `trust store out of contact with Redis for ${age} (over trustMaxStalenessMs ${this.#options.trustMaxStalenessMs})${this.#lastError === undefined ? '' : `: ${this.#lastError}`}`,
    };
  }

  /** The link's state, for the status API. */
  status(): RedisTrustStoreStatus {
    return Object.freeze({
      connected: this.#running && !this.#linkDown,
      version: this.#version,
      syncAgeMs: this.#freshAt === undefined ? undefined : Math.max(0, this.#options.now() - this.#freshAt),
      stale: this.#isStale(),
      trustMaxStalenessMs: this.#options.trustMaxStalenessMs,
      lastError: this.#linkDown ? this.#lastError : undefined,
    });
  }

  /**
   * Connects, loads every key and starts following the change stream. Idempotent; a failed start may be
   * retried.
   *
   * @throws {TrustStoreError} when Redis cannot be reached or read within the connect timeout.
   */
  start(): Promise<void> {
    if (this.#stopping !== undefined) return Promise.reject(new TrustStoreError('trust store was stopped; create a new one'));
    if (this.#starting === undefined) {
      this.#starting = this.#start().catch((error: unknown) => {
        this.#starting = undefined;
        throw error;
      });
    }
    return this.#starting;
  }

  /** Stops following, closes both connections and clears every timer. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /**
   * Re-reads every key from Redis and emits `removed`/`added` for each difference.
   *
   * @throws {TrustStoreError} when Redis cannot be read (the loaded keys stay).
   */
  async reload(): Promise<void> {
    this.#requireClient();
    await this.enqueue(() => this.#fullReload('reload requested'));
  }

  /**
   * Trusts a public key, on every proxy of the fleet. Resolves once this proxy applied the change.
   *
   * @throws {InvalidIdError} | {InvalidKeyError} | {InvalidOptionError} for bad input (nothing is written).
   * @throws {ProxyError} `RP_ERR_ALREADY_EXISTS` when the id exists and `replace` is not set.
   * @throws {TrustStoreError} when Redis cannot be written (the message says whether anything changed).
   */
  override async add(input: AddKeyInput, options: AddKeyOptions = {}): Promise<TrustedKey> {
    if (typeof input !== 'object' || input === null) throw new InvalidOptionError('add: expected { id, publicKey, role?, scope? }');
    const key = await buildTrustedKey(input, new Date(this.#options.now()).toISOString());
    const client = this.#requireClient();
    let reply: unknown;
    try {
      reply = await client.eval(ADD_SCRIPT, {
        keys: scriptKeys(this.#names),
        arguments: [key.id, serializeTrustedKey(key), options.replace === true ? '1' : '0', String(this.#options.streamMaxLength), randomBytes(16).toString('hex')],
      });
    } catch (error) {
      throw redisWriteError('add', key.id, error);
    }
    await this.#settle(this.#writtenVersion(reply));
    return this.keys.get(key.id) ?? key;
  }

  /**
   * Trusts a batch of keys (`keys.import`, `ProxySysAdmin.addPublicKeys`): one {@link add} script per key,
   * sent together. Resolves with one outcome per entry, in order: the stored key, or the error that
   * refused it. Unlike the file store's batch this is not all-or-nothing: with Redis unreachable each
   * key's outcome is its own `RP_ERR_TRUST_STORE` (the message says whether that key was written).
   */
  override async addMany(entries: readonly AddManyEntry[]): Promise<Array<TrustedKey | ProxyError>> {
    if (!Array.isArray(entries)) throw new InvalidOptionError('addMany: expected an array of { input, replace? }');
    return Promise.all(
      entries.map(async ({ input, replace }) => {
        try {
          return await this.add(input, { replace: replace === true });
        } catch (error) {
          if (error instanceof ProxyError) return error;
          throw error;
        }
      }),
    );
  }

  /**
   * Removes a key on every proxy of the fleet (their sessions close through `removed`). False when there
   * was no key with this id. Resolves once this proxy applied the change.
   *
   * @throws {TrustStoreError} when Redis cannot be written (the message says whether anything changed).
   */
  override async remove(id: string): Promise<boolean> {
    if (!isValidAgentId(id)) return false;
    const client = this.#requireClient();
    let reply: unknown;
    try {
      reply = await client.eval(REMOVE_SCRIPT, {
        keys: scriptKeys(this.#names),
        arguments: [id, String(this.#options.streamMaxLength), randomBytes(16).toString('hex')],
      });
    } catch (error) {
      throw redisWriteError('remove', id, error);
    }
    const version = this.#writtenVersion(reply);
    if (version === 0) return false;
    await this.#settle(version);
    return true;
  }

  async #start(): Promise<void> {
    try {
      this.#client = await connectRedis(this.#options.connection, this.#logger);
      // Blocking reads get a connection of their own: a blocked XREAD holds its connection.
      this.#reader = await connectRedis(this.#options.connection, this.#logger);
      const sentAt = this.#options.now();
      await this.enqueue(() => this.#fullReload('start'));
      this.#markFresh(sentAt);
    } catch (error) {
      closeRedis(this.#reader);
      closeRedis(this.#client);
      this.#reader = undefined;
      this.#client = undefined;
      throw error instanceof TrustStoreError ? error : new TrustStoreError(`cannot load the trust store from Redis: ${(error as Error).message}`, { cause: error });
    }
    this.#running = true;
    this.#logger.info({ keys: this.size, version: this.#version }, 'trust store loaded from Redis');
    this.#readLoop = this.#follow();
  }

  async #stop(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    this.#running = false;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#wakeRetry?.();
    // Destroying the reader rejects its blocked XREAD, which ends the loop.
    closeRedis(this.#reader);
    await this.#readLoop;
    // Let an apply in progress finish before its connection goes.
    await this.enqueue(() => Promise.resolve());
    closeRedis(this.#client);
    this.#reader = undefined;
    this.#client = undefined;
  }

  /** The follow loop: blocking reads from the last applied entry, until stop. */
  async #follow(): Promise<void> {
    let recovering = false;
    while (this.#running) {
      const reader = this.#reader;
      if (reader === undefined) return;
      try {
        if (recovering) {
          // Back after an outage: check that Redis kept its data before trusting the stream position.
          await this.enqueue(() => this.#reconcile());
          recovering = false;
        }
        const sentAt = this.#options.now();
        const reply = await reader.xRead({ key: this.#names.changes, id: this.#lastId }, { BLOCK: this.#options.streamBlockMs, COUNT: STREAM_READ_COUNT });
        if (!this.#running) return;
        const changes: StreamChange[] = reply === null ? [] : reply.flatMap((stream) => stream.messages);
        if (changes.length > 0) await this.enqueue(() => this.#apply(changes));
        else await this.enqueue(() => this.#reconcile());
        // A full batch may have left changes behind: current only once a read returns less than that.
        if (changes.length < STREAM_READ_COUNT) this.#markFresh(sentAt);
        if (this.#linkDown) {
          this.#linkDown = false;
          this.#logger.info({ version: this.#version }, 'trust store back in contact with Redis and caught up');
        }
      } catch (error) {
        if (!this.#running) return;
        recovering = true;
        this.#lastError = (error as Error).message;
        if (!this.#linkDown) {
          this.#linkDown = true;
          this.#stats.disconnects += 1;
          this.#logger.warn({ err: this.#lastError, staleInMs: this.#options.trustMaxStalenessMs }, 'trust store lost contact with Redis; serving the last known keys until the staleness bound');
        }
        await this.#pause(RETRY_DELAY_MS);
      }
    }
  }

  /** Applies stream entries in order; a gap or an invalid entry turns into a full re-read. */
  async #apply(changes: readonly StreamChange[]): Promise<void> {
    for (const change of changes) {
      if (!isStreamId(change.id) || compareStreamIds(change.id, this.#lastId) <= 0) continue;
      const version = Number(change.message.v);
      if (!Number.isSafeInteger(version) || version < 1) {
        this.#reject(`change ${change.id}`, 'version is not a positive integer');
        await this.#fullReload('invalid change on the stream');
        return;
      }
      if (version <= this.#version) {
        // Already part of the loaded snapshot.
        this.#lastId = change.id;
        continue;
      }
      if (version > this.#version + 1) {
        await this.#fullReload(`change stream skips from version ${this.#version} to ${version} (trimmed past this proxy)`);
        return;
      }
      const { op, id } = change.message;
      if (op === 'remove' && isValidAgentId(id)) {
        const next = new Map(this.keys);
        next.delete(id);
        this.replaceKeys(next);
      } else if (op === 'add') {
        let key: TrustedKey;
        try {
          key = await parseTrustedKeyJson(change.message.entry, id);
        } catch (error) {
          this.#reject(`change ${change.id}`, (error as Error).message);
          await this.#fullReload('invalid change on the stream');
          return;
        }
        const next = new Map(this.keys);
        next.set(key.id, key);
        this.replaceKeys(next);
      } else {
        this.#reject(`change ${change.id}`, 'unknown operation or invalid id');
        await this.#fullReload('invalid change on the stream');
        return;
      }
      this.#version = version;
      this.#lastId = change.id;
      this.#stats.appliedChanges += 1;
    }
  }

  /** Loads a consistent snapshot of every key and replaces the view, emitting the differences. */
  async #fullReload(why: string): Promise<void> {
    const snapshot = await readTrustSnapshot(this.#requireClient(), this.#names, (where, reason) => this.#reject(where, reason));
    this.replaceKeys(snapshot.keys);
    if (this.#epoch !== undefined && this.#epoch !== snapshot.epoch) this.#logger.warn('Redis lost or replaced the trust store data (new epoch); every key was re-read');
    this.#epoch = snapshot.epoch;
    this.#version = snapshot.version;
    this.#lastId = snapshot.lastId;
    this.#stats.fullReloads += 1;
    this.#logger.debug({ why, keys: snapshot.keys.size, version: snapshot.version }, 'trust store re-read from Redis');
  }

  /** Compares the epoch and version in Redis with the loaded ones; catches up or re-reads on a difference. */
  async #reconcile(): Promise<void> {
    const client = this.#requireClient();
    const [epoch, versionText] = await client.mGet([this.#names.epoch, this.#names.version]);
    const version = versionText === null ? 0 : Number(versionText);
    if (epoch !== this.#epoch || !Number.isSafeInteger(version) || version < this.#version) {
      await this.#fullReload('Redis epoch or version differs from the loaded one');
      return;
    }
    if (version > this.#version) await this.#catchUp(version);
  }

  /** Reads the stream after the last applied entry until `version` is applied, else re-reads all. */
  async #catchUp(version: number): Promise<void> {
    const client = this.#requireClient();
    while (this.#version < version) {
      const before = this.#lastId;
      const entries = (await client.xRange(this.#names.changes, `(${this.#lastId}`, '+', { COUNT: STREAM_READ_COUNT })) ?? [];
      if (entries.length === 0) break;
      await this.#apply(entries);
      if (this.#lastId === before) break;
    }
    if (this.#version < version) await this.#fullReload(`stream does not lead to version ${version}`);
  }

  /** After a write: apply it (and anything before it) here before the write resolves. */
  async #settle(version: number): Promise<void> {
    try {
      await this.enqueue(async () => {
        if (this.#version < version) await this.#catchUp(version);
      });
    } catch (error) {
      // The write is in Redis; the follow loop applies it when the link is back.
      this.#logger.warn({ err: (error as Error).message, version }, 'change written to Redis but not yet applied here');
    }
  }

  #writtenVersion(reply: unknown): number {
    if (!Array.isArray(reply) || reply.length !== 2 || !Number.isSafeInteger(reply[0])) throw new TrustStoreError('unexpected reply from Redis to a trust store write');
    return reply[0] as number;
  }

  #requireClient(): RedisClient {
    if (this.#client === undefined) throw new TrustStoreError('trust store is not started (or was stopped)');
    return this.#client;
  }

  #reject(where: string, reason: string): void {
    this.#stats.rejectedEntries += 1;
    // The reason comes from validation and never echoes key material.
    this.#logger.error({ entry: where, reason }, 'invalid trust store entry in Redis ignored (not trusted)');
  }

  #markFresh(sentAt: number): void {
    if (this.#freshAt === undefined || sentAt > this.#freshAt) this.#freshAt = sentAt;
  }

  #isStale(): boolean {
    return !this.#running || this.#freshAt === undefined || this.#options.now() - this.#freshAt > this.#options.trustMaxStalenessMs;
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wakeRetry = resolve;
      this.#retryTimer = setTimeout(resolve, ms);
    });
  }

  /**
   * Never called: `add` and `remove` are one Lua script each, checked and applied inside Redis, never a
   * read-modify-write of this proxy's view (which may lag the fleet by a few milliseconds).
   */
  protected override mutate<T>(): Promise<T> {
    return Promise.reject(new TrustStoreError('the Redis trust store writes through its scripts only'));
  }
}
