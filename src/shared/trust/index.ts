/**
 * The trust store and replay cache, shared by the proxy and the sysadmin tools (neither imports the
 * other). Import from here rather than from the files.
 */
export { TrustStore } from './trust-store.js';
export type { AddKeyOptions, TrustStoreEvents, TrustStoreHealth, TrustStoreKind } from './trust-store.js';
export { KeyedTrustStore } from './keyed-trust-store.js';
export type { TrustStoreOptions } from './keyed-trust-store.js';
export { MemoryTrustStore, createMemoryTrustStore } from './memory-trust-store.js';
export { FileTrustStore, openFileTrustStore, DEFAULT_WATCH_DEBOUNCE_MS, TRUST_STORE_LOCK_FILE } from './file-trust-store.js';
export type { FileTrustStoreOptions } from './file-trust-store.js';
export { DEFAULT_LOCK_STALE_MS, DEFAULT_LOCK_TIMEOUT_MS } from './file-lock.js';
export type { FileLockOptions } from './file-lock.js';
export { MAX_TRUSTED_KEYS, TRUST_STORE_FILE, TRUST_STORE_VERSION } from './trust-store-file.js';
export { buildTrustedKey, sameGrant } from './trusted-key.js';
export type { AddKeyInput, TrustedKey } from './trusted-key.js';
export type { KeyRole, KeyScope } from '../protocol.js';
export { parseKeyScope } from './key-scope.js';
export type { ReplayCache, ReplayVerdict } from './replay-cache.js';
export { MemoryReplayCache, DEFAULT_REPLAY_CACHE_MAX_ENTRIES } from './memory-replay-cache.js';
export type { MemoryReplayCacheOptions } from './memory-replay-cache.js';
