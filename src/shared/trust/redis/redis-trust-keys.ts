/**
 * The Redis keys of a fleet's trust store, all under one prefix:
 * - `<prefix>trust:keys`: hash, id -> `{"version":N,"entry":{...}}` (the current keys);
 * - `<prefix>trust:version`: integer, bumped by every change;
 * - `<prefix>trust:changes`: stream of changes (`v`, `op` add|remove, `id`, `entry`), trimmed to about
 *   `streamMaxLength` entries;
 * - `<prefix>trust:epoch`: random string set when the store is first written; a new value means Redis
 *   lost its data (restarted without its append-only file, or flushed), so every proxy re-reads all.
 */

/** The key names for one prefix. */
export interface RedisTrustKeys {
  readonly keys: string;
  readonly version: string;
  readonly changes: string;
  readonly epoch: string;
}

/** The key names under `prefix`. */
export function redisTrustKeys(prefix: string): RedisTrustKeys {
  return Object.freeze({
    keys: `${prefix}trust:keys`,
    version: `${prefix}trust:version`,
    changes: `${prefix}trust:changes`,
    epoch: `${prefix}trust:epoch`,
  });
}
