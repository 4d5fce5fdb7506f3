/**
 * What every trust store backend shares: the loaded view (`get`/`list`/`size` read a map that is only
 * ever replaced, never mutated), one-at-a-time mutations through a promise queue (so concurrent
 * `add`/`remove` calls never lose an entry), the diff between two views as events, and events whose
 * listeners may throw without breaking the store.
 */
import { EventEmitter } from 'node:events';
import { InvalidOptionError, ProxyError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { AddKeyOptions, AddManyEntry, TrustStoreEvents } from './trust-store.js';
import { buildTrustedKey, byId, sameGrant, type AddKeyInput, type TrustedKey } from './trusted-key.js';

/** Options shared by the trust store backends. */
export interface TrustStoreOptions {
  /** Logger for listener and reload failures. Default silent. */
  logger?: Logger;
  /** Clock for `createdAt`, for tests. Default `Date.now`. */
  now?: () => number;
}

/** Base of the trust store backends: a view of keys plus the write path each backend completes. */
export abstract class KeyedTrustStore extends EventEmitter<TrustStoreEvents> {
  protected readonly logger: Logger;
  readonly #now: () => number;
  #keys: ReadonlyMap<string, TrustedKey> = new Map();
  #queue: Promise<unknown> = Promise.resolve();

  protected constructor(options: TrustStoreOptions) {
    super();
    this.logger = (options.logger ?? silentLogger()).child({ component: 'trust-store' });
    this.#now = options.now ?? Date.now;
  }

  /** The key with this id, or undefined (also for an invalid id). */
  get(id: string): TrustedKey | undefined {
    return typeof id === 'string' ? this.#keys.get(id) : undefined;
  }

  /** Every key, sorted by id. */
  list(): TrustedKey[] {
    return [...this.#keys.values()].sort(byId);
  }

  /** Number of keys. */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * Trusts a public key.
   *
   * @throws {InvalidIdError} | {InvalidKeyError} | {InvalidOptionError} for bad input (nothing is written).
   * @throws {ProxyError} `RP_ERR_ALREADY_EXISTS` when the id exists and `replace` is not set.
   * @throws {TrustStoreError} when the backend cannot be read or written (the store is unchanged).
   */
  async add(input: AddKeyInput, options: AddKeyOptions = {}): Promise<TrustedKey> {
    // Validation happens before queueing so bad input never touches the backend.
    if (typeof input !== 'object' || input === null) throw new InvalidOptionError('add: expected { id, publicKey, role?, scope? }');
    const key = await buildTrustedKey(input, new Date(this.#now()).toISOString());
    return this.enqueue(() =>
      this.mutate((current) => {
        const previous = current.get(key.id);
        if (previous !== undefined && options.replace !== true) {
          throw new ProxyError('RP_ERR_ALREADY_EXISTS', `a key with id "${key.id}" already exists (use replace to overwrite it)`);
        }
        const next = new Map(current);
        next.set(key.id, key);
        return { next, result: key };
      }),
    );
  }

  /**
   * Trusts many keys in ONE read-modify-write (a bulk import): each entry is validated and checked on
   * its own (a bad key or an existing id without `replace` is refused with its error and does not stop
   * the others), then the accepted ones are persisted at once. Resolves with one outcome per entry, in
   * order: the stored key, or the {@link ProxyError} that refused it. Adding keys one by one re-reads
   * and rewrites the whole file each time (1,000 keys: about 20 s here); a batch costs one write.
   *
   * @throws {TrustStoreError} when the backend cannot be read or written (nothing of the batch is applied).
   */
  async addMany(entries: readonly AddManyEntry[]): Promise<Array<TrustedKey | ProxyError>> {
    if (!Array.isArray(entries)) throw new InvalidOptionError('addMany: expected an array of { input, replace? }');
    const createdAt = new Date(this.#now()).toISOString();
    const built = await Promise.all(
      entries.map(async ({ input }) => {
        try {
          if (typeof input !== 'object' || input === null) throw new InvalidOptionError('add: expected { id, publicKey, role?, scope? }');
          return await buildTrustedKey(input, createdAt);
        } catch (error) {
          if (error instanceof ProxyError) return error;
          throw error;
        }
      }),
    );
    return this.enqueue(() =>
      this.mutate((current) => {
        const next = new Map(current);
        let changed = false;
        const outcomes = built.map((key, index): TrustedKey | ProxyError => {
          if (key instanceof ProxyError) return key;
          if (next.has(key.id) && entries[index]?.replace !== true) {
            return new ProxyError('RP_ERR_ALREADY_EXISTS', `a key with id "${key.id}" already exists (use replace to overwrite it)`);
          }
          next.set(key.id, key);
          changed = true;
          return key;
        });
        return { next: changed ? next : undefined, result: outcomes };
      }),
    );
  }

  /**
   * Removes a key. Returns false when there was none with this id (an invalid id is simply absent).
   *
   * @throws {TrustStoreError} when the backend cannot be read or written (the store is unchanged).
   */
  async remove(id: string): Promise<boolean> {
    if (typeof id !== 'string') return false;
    return this.enqueue(() =>
      this.mutate((current) => {
        if (!current.has(id)) return { next: undefined, result: false };
        const next = new Map(current);
        next.delete(id);
        return { next, result: true };
      }),
    );
  }

  /**
   * Applies `change` to the current keys and persists the result. Backends wrap this in whatever makes
   * the read-modify-write atomic across processes (the file backend: a lock, and a re-read under it).
   * `next` undefined means nothing changes.
   */
  protected abstract mutate<T>(change: (current: ReadonlyMap<string, TrustedKey>) => { next: Map<string, TrustedKey> | undefined; result: T }): Promise<T>;

  /** The loaded view, for backends. */
  protected get keys(): ReadonlyMap<string, TrustedKey> {
    return this.#keys;
  }

  /** Runs `task` after every earlier mutation, in order; a failed task does not stop the queue. */
  protected enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    // The queue itself must never reject, or every later task would be skipped.
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Replaces the view and emits `removed`/`added` for every difference (a changed key emits both). */
  protected replaceKeys(loaded: ReadonlyMap<string, TrustedKey>): void {
    const previous = this.#keys;
    this.#keys = loaded;
    for (const [id, old] of previous) {
      const now = loaded.get(id);
      if (now === undefined || !sameGrant(old, now)) this.#emit('removed', old);
    }
    for (const [id, now] of loaded) {
      const old = previous.get(id);
      if (old === undefined || !sameGrant(old, now)) this.#emit('added', now);
    }
  }

  #emit(event: 'added' | 'removed', key: TrustedKey): void {
    try {
      this.emit(event, key);
    } catch (error) {
      this.logger.error({ err: error, event, keyId: key.id }, 'trust store listener threw');
    }
  }
}
