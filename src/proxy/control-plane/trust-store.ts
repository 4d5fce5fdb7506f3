/**
 * The trust store: which public keys may open a control-plane session, with which role and scope.
 *
 * One JSON file, `<dir>/trust-store.json` (see `trust-store-file.ts`), replaces the original's
 * file-per-id layout, whose ids were concatenated into paths (path traversal). Ids are validated and
 * never become part of a path. A corrupt file is an error naming the file, never an empty store.
 *
 * Mutations run one at a time through a promise queue, so concurrent `add`/`remove` calls never lose an
 * entry. Each mutation first re-reads the file (emitting the diff), so an edit made by another process
 * (the `inteli-sysadmin` CLI working offline) is not overwritten; `watch()` picks such edits up as they
 * happen. `added`/`removed` events let the control plane close the sessions of a removed key at once.
 */
import { EventEmitter } from 'node:events';
import { watch as watchDirectory, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { InvalidOptionError, ProxyError, TrustStoreError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { readTrustStoreFile, TRUST_STORE_FILE, writeTrustStoreFile } from './trust-store-file.js';
import { buildTrustedKey, byId, sameGrant, type AddKeyInput, type TrustedKey } from './trusted-key.js';

export type { KeyRole, KeyScope } from '../../shared/protocol.js';
export type { AddKeyInput, TrustedKey } from './trusted-key.js';
export { MAX_TRUSTED_KEYS, TRUST_STORE_FILE, TRUST_STORE_VERSION } from './trust-store-file.js';

/** Default quiet time before a file change seen by `watch()` is reloaded, in milliseconds. */
export const DEFAULT_WATCH_DEBOUNCE_MS = 100;

/** Options of {@link TrustStore.add}. */
export interface AddKeyOptions {
  /** Replace an existing key with the same id (emits `removed` for the old one, then `added`). Default false. */
  replace?: boolean;
}

/** One key of {@link TrustStore.addMany}. */
export interface AddManyEntry {
  readonly input: AddKeyInput;
  /** Replace an existing key with the same id. Default false. */
  readonly replace?: boolean;
}

/** Options of {@link TrustStore.open} and {@link TrustStore.inMemory}. */
export interface TrustStoreOptions {
  /** Logger for listener and reload failures. Default silent. */
  logger?: Logger;
  /** Clock for `createdAt`, for tests. Default `Date.now`. */
  now?: () => number;
}

/** Events of {@link TrustStore}. */
export interface TrustStoreEvents {
  added: [key: TrustedKey];
  removed: [key: TrustedKey];
}

/**
 * Trusted public keys, backed by one JSON file (or memory, for tests).
 *
 * Events: `added(key)`, `removed(key)`. A listener that throws is logged and ignored.
 */
export class TrustStore extends EventEmitter<TrustStoreEvents> {
  readonly #file: string | undefined;
  readonly #logger: Logger;
  readonly #now: () => number;
  #keys = new Map<string, TrustedKey>();
  #queue: Promise<unknown> = Promise.resolve();
  #watcher: FSWatcher | undefined;
  #watchTimer: NodeJS.Timeout | undefined;

  private constructor(file: string | undefined, options: TrustStoreOptions) {
    super();
    this.#file = file;
    this.#logger = (options.logger ?? silentLogger()).child({ component: 'trust-store' });
    this.#now = options.now ?? Date.now;
  }

  /**
   * Opens (and creates, mode 0700) the store directory and loads `trust-store.json` from it; a missing
   * file is an empty store.
   *
   * @throws {TrustStoreError} (`RP_ERR_TRUST_STORE`) when the file is unreadable or corrupt (the message
   * names the file; the store is never silently emptied).
   */
  static async open(dir: string, options: TrustStoreOptions = {}): Promise<TrustStore> {
    if (typeof dir !== 'string' || dir.length === 0) throw new InvalidOptionError('dir: expected a directory path');
    const resolved = path.resolve(dir);
    try {
      await mkdir(resolved, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new TrustStoreError(`cannot create trust store directory ${resolved}: ${(error as Error).message}`, { cause: error });
    }
    const store = new TrustStore(path.join(resolved, TRUST_STORE_FILE), options);
    store.#keys = await readTrustStoreFile(store.#file as string);
    return store;
  }

  /** A store that lives only in memory (tests, embedded use). */
  static inMemory(options: TrustStoreOptions = {}): TrustStore {
    return new TrustStore(undefined, options);
  }

  /** Path of the backing file, or undefined for an in-memory store. */
  get file(): string | undefined {
    return this.#file;
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
   * @throws {TrustStoreError} when the file cannot be read or written (the store is unchanged).
   */
  async add(input: AddKeyInput, options: AddKeyOptions = {}): Promise<TrustedKey> {
    // Validation happens before queueing so bad input never touches the file system.
    if (typeof input !== 'object' || input === null) throw new InvalidOptionError('add: expected { id, publicKey, role?, scope? }');
    const key = await buildTrustedKey(input, new Date(this.#now()).toISOString());
    return this.#enqueue(async () => {
      await this.#sync();
      const previous = this.#keys.get(key.id);
      if (previous !== undefined && options.replace !== true) {
        throw new ProxyError('RP_ERR_ALREADY_EXISTS', `a key with id "${key.id}" already exists (use replace to overwrite it)`);
      }
      const next = new Map(this.#keys);
      next.set(key.id, key);
      if (this.#file !== undefined) await writeTrustStoreFile(this.#file, next);
      this.#keys = next;
      if (previous !== undefined) this.#emit('removed', previous);
      this.#emit('added', key);
      return key;
    });
  }

  /**
   * Trusts many keys in ONE read-modify-write (a bulk import): each entry is validated and checked on
   * its own (a bad key or an existing id without `replace` is refused with its error and does not stop
   * the others), then the accepted ones are written at once. Resolves with one outcome per entry, in
   * order: the stored key, or the {@link ProxyError} that refused it. Adding keys one by one re-reads
   * and rewrites the whole file each time (1,000 keys: about 20 s here); a batch costs one write.
   *
   * @throws {TrustStoreError} when the file cannot be read or written (nothing of the batch is applied).
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
    return this.#enqueue(async () => {
      await this.#sync();
      const next = new Map(this.#keys);
      const outcomes: Array<TrustedKey | ProxyError> = [];
      const changes: Array<{ previous: TrustedKey | undefined; key: TrustedKey }> = [];
      built.forEach((key, index) => {
        if (key instanceof ProxyError) {
          outcomes.push(key);
          return;
        }
        const previous = next.get(key.id);
        if (previous !== undefined && entries[index]?.replace !== true) {
          outcomes.push(new ProxyError('RP_ERR_ALREADY_EXISTS', `a key with id "${key.id}" already exists (use replace to overwrite it)`));
          return;
        }
        next.set(key.id, key);
        changes.push({ previous, key });
        outcomes.push(key);
      });
      if (changes.length === 0) return outcomes;
      if (this.#file !== undefined) await writeTrustStoreFile(this.#file, next);
      this.#keys = next;
      for (const { previous, key } of changes) {
        if (previous !== undefined) this.#emit('removed', previous);
        this.#emit('added', key);
      }
      return outcomes;
    });
  }

  /**
   * Removes a key. Returns false when there was none with this id (an invalid id is simply absent).
   *
   * @throws {TrustStoreError} when the file cannot be read or written (the store is unchanged).
   */
  async remove(id: string): Promise<boolean> {
    if (typeof id !== 'string') return false;
    return this.#enqueue(async () => {
      await this.#sync();
      const previous = this.#keys.get(id);
      if (previous === undefined) return false;
      const next = new Map(this.#keys);
      next.delete(id);
      if (this.#file !== undefined) await writeTrustStoreFile(this.#file, next);
      this.#keys = next;
      this.#emit('removed', previous);
      return true;
    });
  }

  /**
   * Re-reads the file and emits `removed`/`added` for every difference (a changed key emits both).
   * No-op for an in-memory store.
   *
   * @throws {TrustStoreError} when the file is unreadable or corrupt (the loaded keys stay as they were).
   */
  async reload(): Promise<void> {
    await this.#enqueue(() => this.#sync());
  }

  /**
   * Reloads whenever the file changes on disk (edits by another process), after `debounceMs` of quiet
   * (default 100, 0 to 60000). A failed reload is logged and the loaded keys stay. Idempotent; stop with
   * {@link TrustStore.unwatch}. No-op for an in-memory store.
   */
  watch(options: { debounceMs?: number } = {}): void {
    const debounceMs = options.debounceMs ?? DEFAULT_WATCH_DEBOUNCE_MS;
    if (!Number.isInteger(debounceMs) || debounceMs < 0 || debounceMs > 60_000) {
      throw new InvalidOptionError(`debounceMs: expected an integer from 0 to 60000, got ${String(debounceMs)}`);
    }
    if (this.#file === undefined || this.#watcher !== undefined) return;
    // The directory is watched, not the file: an atomic write replaces the file (a new inode).
    const watcher = watchDirectory(path.dirname(this.#file), { persistent: false }, (_event, name) => {
      if (name !== null && name !== TRUST_STORE_FILE) return;
      clearTimeout(this.#watchTimer);
      this.#watchTimer = setTimeout(() => {
        this.#watchTimer = undefined;
        this.reload().catch((error: unknown) => this.#logger.error({ err: (error as Error).message }, 'trust store reload failed; keeping the loaded keys'));
      }, debounceMs);
    });
    watcher.on('error', (error) => this.#logger.error({ err: error.message }, 'trust store watcher failed'));
    this.#watcher = watcher;
  }

  /** Stops {@link TrustStore.watch} and clears its timer. Idempotent. */
  unwatch(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    clearTimeout(this.#watchTimer);
    this.#watchTimer = undefined;
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    // The queue itself must never reject, or every later task would be skipped.
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #sync(): Promise<void> {
    if (this.#file === undefined) return;
    const loaded = await readTrustStoreFile(this.#file);
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
      this.#logger.error({ err: error, event, keyId: key.id }, 'trust store listener threw');
    }
  }
}
