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
import { storeModeProblems } from './store-modes.js';
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
  /**
   * Refuse to open when the store directory or file is writable by group or others, or owned by another
   * user (root aside), instead of logging a warning. Default false.
   */
  strictModes?: boolean;
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
  readonly #strictModes: boolean;
  #openPromise: Promise<void> | undefined;
  #health: TrustStoreHealth = { ok: true };
  /**
   * Keys removed from the loaded view while the file could not be read or written (issue 14): a removal
   * must take effect even when a bad hand edit broke the file. They stay out of every later view (while
   * the file still holds the same key) and are written as soon as the file can be read again.
   */
  readonly #pendingRemovals = new Map<string, TrustedKey>();
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
    if (options.strictModes !== undefined && typeof options.strictModes !== 'boolean') throw new InvalidOptionError('strictModes: expected a boolean');
    this.#strictModes = options.strictModes === true;
  }

  /**
   * Creates the directory (mode 0700), checks its and the file's permissions (a warning, or a refusal
   * with `strictModes`) and loads the file, once; a missing file is an empty store.
   *
   * @throws {TrustStoreError} (`RP_ERR_TRUST_STORE`) when the file is unreadable, corrupt, not a regular
   * file (a symbolic link or FIFO is refused) or, with `strictModes`, writable by others (the message
   * names the file; the store is never silently emptied).
   */
  open(): Promise<void> {
    if (this.#openPromise === undefined) {
      const opening = (async () => {
        await this.#ensureDir();
        await this.#checkModes();
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

  /**
   * Not ok after a failed reload of a changed file (the previous keys stay in use), and while a removal
   * is applied in memory but not yet written.
   */
  health(): TrustStoreHealth {
    if (this.#health.ok && this.#pendingRemovals.size > 0) {
      return { ok: false, reason: `${this.#pendingRemovals.size} key removal(s) applied in memory are not yet written to ${this.file}` };
    }
    return this.#health;
  }

  /** Ids removed in memory whose removal is not yet written to the file. */
  get pendingRemovals(): readonly string[] {
    return [...this.#pendingRemovals.keys()];
  }

  /**
   * Re-reads the file and emits `removed`/`added` for every difference (a changed key emits both). When
   * the file still holds keys removed in memory, they stay out and the file is rewritten without them.
   *
   * @throws {TrustStoreError} when the file is unreadable or corrupt (the loaded keys stay as they were).
   */
  async reload(): Promise<void> {
    const stillListed = await this.enqueue(() => this.#sync());
    if (stillListed) await this.#writePending();
  }

  /**
   * Removes a key. When the file cannot be read or written (a bad hand edit, a full disk), the removal is
   * still applied to the loaded view at once (its sessions close) and written once the file is readable
   * again (issue 14: a revocation must not wait for a file to be fixed); the failure is logged and shows
   * in {@link FileTrustStore.health}.
   *
   * @throws {TrustStoreError} only when the key is not in the loaded view either.
   */
  override async remove(id: string): Promise<boolean> {
    try {
      return await super.remove(id);
    } catch (error) {
      if (!(error instanceof TrustStoreError) || typeof id !== 'string') throw error;
      const removed = await this.enqueue(async () => {
        const key = this.keys.get(id);
        if (key === undefined) return false;
        this.#pendingRemovals.set(id, key);
        const next = new Map(this.keys);
        next.delete(id);
        this.replaceKeys(next);
        return true;
      });
      if (!removed) throw error;
      this.logger.error(
        { keyId: id, file: this.file, err: error.message },
        'key removed in memory only: the trust store file cannot be read or written; the removal is written once it can',
      );
      return true;
    }
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
        for (const id of [...this.#pendingRemovals.keys()]) if (!next.has(id)) this.#pendingRemovals.delete(id);
        return result;
      },
      this.#lock,
    ));
  }

  /** Warns about (or, with `strictModes`, refuses) a store others can write (issue 14). */
  async #checkModes(): Promise<void> {
    const problems = await storeModeProblems(this.#dir, this.file);
    if (problems.length === 0) return;
    if (this.#strictModes) throw new TrustStoreError(`refusing the trust store: ${problems.join('; ')}`);
    for (const problem of problems) this.logger.warn({ file: this.file }, problem);
  }

  async #ensureDir(): Promise<void> {
    try {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new TrustStoreError(`cannot create trust store directory ${this.#dir}: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * Loads the file into the view, keeping out keys removed in memory; true when the file still lists one
   * of them (it must be rewritten).
   */
  async #sync(): Promise<boolean> {
    let loaded: Map<string, TrustedKey>;
    try {
      loaded = await readTrustStoreFile(this.file);
    } catch (error) {
      this.#health = { ok: false, reason: (error as Error).message };
      throw error;
    }
    let stillListed = false;
    for (const [id, removed] of [...this.#pendingRemovals]) {
      const listed = loaded.get(id);
      if (listed !== undefined && listed.fingerprint === removed.fingerprint) {
        loaded.delete(id);
        stillListed = true;
      } else {
        // Gone from the file, or a different key added under the id since: the file says it all now.
        this.#pendingRemovals.delete(id);
      }
    }
    this.replaceKeys(loaded);
    this.#health = { ok: true };
    return stillListed;
  }

  /** Writes the file without the keys removed in memory (a failure is logged; the next reload retries). */
  async #writePending(): Promise<void> {
    try {
      await this.enqueue(() => this.mutate((current) => ({ next: new Map(current), result: undefined })));
      this.logger.info({ file: this.file }, 'key removals applied in memory are now written to the trust store');
    } catch (error) {
      this.logger.error({ err: (error as Error).message, file: this.file }, 'key removals applied in memory still cannot be written');
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
