/**
 * The trust store: which public keys may open a control-plane session, with which role and scope.
 *
 * It is shared by the proxy (which verifies tokens against it and closes the sessions of a removed key)
 * and the sysadmin tools (which add and remove keys, online or offline), so it lives in `shared/` and
 * neither side imports the other. Backends: memory (tests, embedding), file (`trust-store.json`, the
 * default) and, for a fleet of proxies, Redis. Every backend serves `get()` synchronously from a loaded
 * view, so a token check never waits on I/O; writes are asynchronous and emit `added`/`removed`.
 */
import type { EventEmitter } from 'node:events';
import type { ProxyError } from '../errors.js';
import { createMemoryTrustStore } from './memory-trust-store.js';
import { openFileTrustStore } from './file-trust-store.js';
import type { AddKeyInput, TrustedKey } from './trusted-key.js';

/** Which backend holds the keys. */
export type TrustStoreKind = 'memory' | 'file' | 'redis';

/** Events of a {@link TrustStore}. A listener that throws is logged and ignored. */
export interface TrustStoreEvents {
  /** A key was trusted (a replaced key emits `removed` for the old entry first). */
  added: [key: TrustedKey];
  /** A key was removed or replaced: its sessions must close. */
  removed: [key: TrustedKey];
}

/** One key of {@link TrustStore.addMany}. */
export interface AddManyEntry {
  readonly input: AddKeyInput;
  /** Replace an existing key with the same id. Default false. */
  readonly replace?: boolean;
}

/** Options of {@link TrustStore.add}. */
export interface AddKeyOptions {
  /** Replace an existing key with the same id (emits `removed` for the old one, then `added`). Default false. */
  replace?: boolean;
}

/** Whether the store can currently be trusted to be up to date (read by `/readyz`). */
export interface TrustStoreHealth {
  readonly ok: boolean;
  /** Why not, when `ok` is false. */
  readonly reason?: string;
}

/**
 * Trusted public keys. Events: `added(key)`, `removed(key)`.
 *
 * `start()` loads and begins following changes made elsewhere (the file backend watches its file, the
 * Redis backend subscribes); `stop()` ends that. Both are idempotent. Whoever creates a store starts and
 * stops it: a host given a store object uses it as it is.
 */
export interface TrustStore extends EventEmitter<TrustStoreEvents> {
  /** Which backend this is. */
  readonly kind: TrustStoreKind;
  /** The key with this id, or undefined (also for an invalid id); synchronous, from the loaded view. */
  get(id: string): TrustedKey | undefined;
  /** Every key, sorted by id. */
  list(): TrustedKey[];
  /** Number of keys. */
  readonly size: number;
  /**
   * Trusts a public key.
   *
   * @throws {InvalidIdError} | {InvalidKeyError} | {InvalidOptionError} for bad input (nothing is written).
   * @throws {ProxyError} `RP_ERR_ALREADY_EXISTS` when the id exists and `replace` is not set.
   * @throws {TrustStoreError} when the backend cannot be read or written (the store is unchanged).
   */
  add(input: AddKeyInput, options?: AddKeyOptions): Promise<TrustedKey>;
  /**
   * Trusts many keys in one write (bulk import), one outcome per entry: the stored key or the
   * `ProxyError` that refused it. Optional: a custom backend without it gets one `add` per key.
   *
   * @throws {TrustStoreError} when the backend cannot be read or written (nothing of the batch is applied).
   */
  addMany?(entries: readonly AddManyEntry[]): Promise<Array<TrustedKey | ProxyError>>;
  /**
   * Removes a key; false when there was none with this id.
   *
   * @throws {TrustStoreError} when the backend cannot be read or written (the store is unchanged).
   */
  remove(id: string): Promise<boolean>;
  /** Re-reads the backend and emits `removed`/`added` for every difference. @throws {TrustStoreError}. */
  reload(): Promise<void>;
  /** Loads and follows changes made elsewhere. Idempotent. @throws {TrustStoreError}. */
  start(): Promise<void>;
  /** Stops following changes and clears every timer and watcher. Idempotent. */
  stop(): Promise<void>;
  /** Whether the loaded view can be trusted right now. */
  health(): TrustStoreHealth;
}

/**
 * The factories under the name of the class that `TrustStore` used to be, so that existing code keeps
 * working: `TrustStore.open(dir)` is {@link openFileTrustStore}, `TrustStore.inMemory()` is
 * {@link createMemoryTrustStore}.
 *
 * @deprecated Call `openFileTrustStore` / `createMemoryTrustStore` (or `new FileTrustStore`).
 */
export const TrustStore = Object.freeze({
  open: openFileTrustStore,
  inMemory: createMemoryTrustStore,
});
