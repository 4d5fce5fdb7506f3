/**
 * A consistent snapshot of the Redis trust store (one script: the epoch, the version, the stream
 * position the hash reflects, and every entry), validated. Invalid entries are handed to `onReject` and
 * left out: they are never trusted, and the rest of the store still loads.
 */
import { randomBytes } from 'node:crypto';
import { TrustStoreError } from '../../errors.js';
import type { RedisClient } from '../../redis/redis-connection.js';
import { MAX_TRUSTED_KEYS } from '../trust-store-file.js';
import type { TrustedKey } from '../trusted-key.js';
import type { RedisTrustKeys } from './redis-trust-keys.js';
import { scriptKeys, SNAPSHOT_SCRIPT } from './redis-trust-scripts.js';
import { parseStoredTrustEntry } from './stored-trust-entry.js';
import { isStreamId } from './stream-id.js';

/** What a snapshot holds. */
export interface TrustSnapshot {
  /** Random string of the Redis data set; a new one means Redis lost its data. */
  readonly epoch: string;
  /** Store version the snapshot reflects. */
  readonly version: number;
  /** Last change-stream entry the snapshot reflects (follow the stream after it). */
  readonly lastId: string;
  /** Every valid entry, by id. */
  readonly keys: ReadonlyMap<string, TrustedKey>;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/**
 * Reads and validates a snapshot.
 *
 * @throws {TrustStoreError} for a reply that is not a snapshot or holds more than {@link MAX_TRUSTED_KEYS}
 * keys; a Redis error as node-redis raises it.
 */
export async function readTrustSnapshot(client: RedisClient, names: RedisTrustKeys, onReject: (where: string, reason: string) => void): Promise<TrustSnapshot> {
  const reply: unknown = await client.eval(SNAPSHOT_SCRIPT, { keys: scriptKeys(names), arguments: [randomBytes(16).toString('hex')] });
  if (!Array.isArray(reply) || reply.length !== 4) throw new TrustStoreError('unexpected snapshot reply from Redis');
  const [epoch, versionText, lastId, flat] = reply as unknown[];
  const version = Number(versionText);
  if (typeof epoch !== 'string' || !Number.isSafeInteger(version) || version < 0 || !isStreamId(lastId) || !isStringArray(flat)) {
    throw new TrustStoreError('unexpected snapshot reply from Redis (version or stream position is invalid)');
  }
  if (flat.length / 2 > MAX_TRUSTED_KEYS) throw new TrustStoreError(`the trust store in Redis holds more than ${MAX_TRUSTED_KEYS} keys; refusing to load it`);
  const keys = new Map<string, TrustedKey>();
  for (let index = 0; index + 1 < flat.length; index += 2) {
    const field = flat[index] as string;
    try {
      const { key } = await parseStoredTrustEntry(flat[index + 1], field);
      keys.set(key.id, key);
    } catch (error) {
      onReject(`key "${field.slice(0, 64)}"`, (error as Error).message);
    }
  }
  return { epoch, version, lastId, keys };
}
