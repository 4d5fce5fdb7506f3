/**
 * When a trust store must not authenticate anyone: a shared store (Redis) whose view is older than its
 * staleness bound may still hold keys revoked elsewhere, so new sessions are refused (503
 * `RP_ERR_TRUST_STALE`) until it is current again. A local store (memory, file) is the authority on its
 * own keys and is never stale: a file that fails to reload keeps its last good keys, as it always did.
 */
import type { TrustStore, TrustStoreHealth } from './trust-store.js';

/** The health of `store` when it is stale (a reason to refuse new sessions), else undefined. */
export function trustStaleness(store: Pick<TrustStore, 'kind' | 'health'> | undefined): TrustStoreHealth | undefined {
  if (store === undefined || store.kind !== 'redis') return undefined;
  const health = store.health();
  return health.ok ? undefined : health;
}
