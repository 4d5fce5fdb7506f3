/**
 * The trust store that lives only in memory: for tests and for embedders who manage keys themselves.
 * Nothing to load or follow, so `start()`/`stop()` do nothing and it is always healthy.
 */
import { KeyedTrustStore, type TrustStoreOptions } from './keyed-trust-store.js';
import type { TrustStore, TrustStoreHealth } from './trust-store.js';
import type { TrustedKey } from './trusted-key.js';

/** A {@link TrustStore} in memory. */
export class MemoryTrustStore extends KeyedTrustStore implements TrustStore {
  /** Always `memory`. */
  readonly kind = 'memory' as const;

  constructor(options: TrustStoreOptions = {}) {
    super(options);
  }

  /** Nothing to re-read. */
  async reload(): Promise<void> {}

  /** Nothing to load. Idempotent. */
  async start(): Promise<void> {}

  /** Nothing to stop. Idempotent. */
  async stop(): Promise<void> {}

  /** Always ok. */
  health(): TrustStoreHealth {
    return { ok: true };
  }

  protected override async mutate<T>(change: (current: ReadonlyMap<string, TrustedKey>) => { next: Map<string, TrustedKey> | undefined; result: T }): Promise<T> {
    const { next, result } = change(this.keys);
    if (next !== undefined) this.replaceKeys(next);
    return result;
  }
}

/** A new, empty {@link MemoryTrustStore}. */
export function createMemoryTrustStore(options: TrustStoreOptions = {}): MemoryTrustStore {
  return new MemoryTrustStore(options);
}
