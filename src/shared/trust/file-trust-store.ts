/**
 * The file trust store: one JSON file, `<dir>/trust-store.json` (see `trust-store-file.ts`), which
 * replaces the original's file-per-id layout, whose ids were concatenated into paths (path traversal).
 * Ids are validated and never become part of a path. A corrupt file is an error naming the file, never
 * an empty store.
 *
 * Every mutation takes the inter-process lock `trust-store.json.lock` (see `file-lock.ts`), re-reads the
 * file under it (emitting the diff), applies the change and writes atomically, so the offline
 * `inteli-sysadmin` CLI and a running proxy never overwrite each other's changes: a removed key cannot
 * come back from a stale write. `start()` loads the file and watches it, so edits made by another
 * process reach a running proxy without a restart.
 */
import { watch as watchDirectory, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { InvalidOptionError, TrustStoreError } from '../errors.js';
import { resolveFileLockOptions, withFileLock, type FileLockOptions, type ResolvedFileLockOptions } from './file-lock.js';
import { KeyedTrustStore, type TrustStoreOptions } from './keyed-trust-store.js';
import type { TrustStore, TrustStoreHealth } from './trust-store.js';
import { readTrustStoreFile, TRUST_STORE_FILE, writeTrustStoreFile } from './trust-store-file.js';
import type { TrustedKey } from './trusted-key.js';

/** Default quiet time before a file change seen by `watch()` is reloaded, in milliseconds. */
export const DEFAULT_WATCH_DEBOUNCE_MS = 100;
/** Name of the lock file beside the store file. */
export const TRUST_STORE_LOCK_FILE = `${TRUST_STORE_FILE}.lock`;

/** Options of {@link FileTrustStore}. */
export interface FileTrustStoreOptions extends TrustStoreOptions {
  /** The inter-process lock around every write (`timeoutMs` default 10000, `staleMs` default 30000). */
  lock?: FileLockOptions;
  /** Quiet time before a change seen by the watcher is reloaded, in ms, 0 to 60000. Default 100. */
  watchDebounceMs?: number;
}

function debounce(value: number | undefined): number {
  const debounceMs = value ?? DEFAULT_WATCH_DEBOUNCE_MS;
  if (!Number.isInteger(debounceMs) || debounceMs < 0 || debounceMs > 60_000) {
    throw new InvalidOptionError(`debounceMs: expected an integer from 0 to 60000, got ${String(debounceMs)}`);
  }
  return debounceMs;
}

/** A {@link TrustStore} backed by `<dir>/trust-store.json`. */
export class FileTrustStore extends KeyedTrustStore implements TrustStore {
  /** Always `file`. */
  readonly kind = 'file' as const;
  /** Absolute path of the store file. */
  readonly file: string;
  readonly #dir: string;
  readonly #lockFile: string;
  readonly #lock: ResolvedFileLockOptions;
  readonly #debounceMs: number;
  #openPromise: Promise<void> | undefined;
  #health: TrustStoreHealth = { ok: true };
  #watcher: FSWatcher | undefined;
  #watchTimer: NodeJS.Timeout | undefined;

  /**
   * Builds the store without touching the disk; `start()` (or `open()`) loads it.
   *
   * @throws {InvalidOptionError} for an empty directory path or a bad option (`lock.*`, `watchDebounceMs`).
   */
  constructor(dir: string, options: FileTrustStoreOptions = {}) {
    super(options);
    if (typeof dir !== 'string' || dir.length === 0 || dir.includes('\0')) throw new InvalidOptionError('dir: expected a directory path');
    this.#dir = path.resolve(dir);
    this.file = path.join(this.#dir, TRUST_STORE_FILE);
    this.#lockFile = path.join(this.#dir, TRUST_STORE_LOCK_FILE);
    this.#lock = resolveFileLockOptions(options.lock);
    this.#debounceMs = debounce(options.watchDebounceMs);
  }

  /**
   * Creates the directory (mode 0700) and loads the file, once; a missing file is an empty store.
   *
   * @throws {TrustStoreError} (`RP_ERR_TRUST_STORE`) when the file is unreadable or corrupt (the message
   * names the file; the store is never silently emptied).
   */
  open(): Promise<void> {
    if (this.#openPromise === undefined) {
      const opening = (async () => {
        await this.#ensureDir();
        await this.reload();
      })();
      this.#openPromise = opening;
      // A failed open may be retried.
      opening.catch(() => {
        if (this.#openPromise === opening) this.#openPromise = undefined;
      });
    }
    return this.#openPromise;
  }

  /** Opens the store and watches its file for edits by other processes. Idempotent. @throws {TrustStoreError}. */
  async start(): Promise<void> {
    await this.open();
    this.watch();
  }

  /** Stops watching and clears its timer. Idempotent. */
  async stop(): Promise<void> {
    this.unwatch();
  }

  /** Not ok after a failed reload of a changed file (the previous keys stay in use). */
  health(): TrustStoreHealth {
    return this.#health;
  }

  /**
   * Re-reads the file and emits `removed`/`added` for every difference (a changed key emits both).
   *
   * @throws {TrustStoreError} when the file is unreadable or corrupt (the loaded keys stay as they were).
   */
  async reload(): Promise<void> {
    await this.enqueue(() => this.#sync());
  }

  /**
   * Reloads whenever the file changes on disk (edits by another process), after `debounceMs` of quiet
   * (default the `watchDebounceMs` option). A failed reload is logged and the loaded keys stay.
   * Idempotent; stop with {@link FileTrustStore.unwatch}. `start()` calls it.
   */
  watch(options: { debounceMs?: number } = {}): void {
    const debounceMs = options.debounceMs === undefined ? this.#debounceMs : debounce(options.debounceMs);
    if (this.#watcher !== undefined) return;
    // The directory is watched, not the file: an atomic write replaces the file (a new inode).
    const watcher = watchDirectory(this.#dir, { persistent: false }, (_event, name) => {
      if (name !== null && name !== TRUST_STORE_FILE) return;
      clearTimeout(this.#watchTimer);
      this.#watchTimer = setTimeout(() => {
        this.#watchTimer = undefined;
        this.reload().catch((error: unknown) => this.logger.error({ err: (error as Error).message }, 'trust store reload failed; keeping the loaded keys'));
      }, debounceMs);
    });
    watcher.on('error', (error) => this.logger.error({ err: error.message }, 'trust store watcher failed'));
    this.#watcher = watcher;
  }

  /** Stops {@link FileTrustStore.watch} and clears its timer. Idempotent. */
  unwatch(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    clearTimeout(this.#watchTimer);
    this.#watchTimer = undefined;
  }

  protected override mutate<T>(change: (current: ReadonlyMap<string, TrustedKey>) => { next: Map<string, TrustedKey> | undefined; result: T }): Promise<T> {
    return this.#ensureDir().then(() => withFileLock(
      this.#lockFile,
      async () => {
        // Re-read under the lock: the file, not this process's view, is the truth another writer changed.
        await this.#sync();
        const { next, result } = change(this.keys);
        if (next === undefined) return result;
        await writeTrustStoreFile(this.file, next);
        this.replaceKeys(next);
        return result;
      },
      this.#lock,
    ));
  }

  async #ensureDir(): Promise<void> {
    try {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new TrustStoreError(`cannot create trust store directory ${this.#dir}: ${(error as Error).message}`, { cause: error });
    }
  }

  async #sync(): Promise<void> {
    try {
      this.replaceKeys(await readTrustStoreFile(this.file));
      this.#health = { ok: true };
    } catch (error) {
      this.#health = { ok: false, reason: (error as Error).message };
      throw error;
    }
  }
}

/**
 * Opens (and creates, mode 0700) the store directory and loads `trust-store.json` from it, without
 * watching it (call `start()` for that).
 *
 * @throws {TrustStoreError} (`RP_ERR_TRUST_STORE`) when the file is unreadable or corrupt.
 * @throws {InvalidOptionError} for an empty directory path.
 */
export async function openFileTrustStore(dir: string, options: FileTrustStoreOptions = {}): Promise<FileTrustStore> {
  const store = new FileTrustStore(dir, options);
  await store.open();
  return store;
}
