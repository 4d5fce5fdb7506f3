/**
 * One trust-store entry as stored in Redis (a hash field and a change-stream entry), and its validation.
 *
 * Redis is shared and writable by anyone holding its password, so what comes back is untrusted input:
 * every entry goes through the same validation as a line of the trust-store file (`buildTrustedKey`:
 * id pattern, Ed25519 public JWK without `d`, role, scope bounds, ISO `createdAt`), and also must be
 * consistent with itself: the field it is stored under is its id, and the stored fingerprint is the
 * thumbprint of the stored key (an entry whose key was swapped without its fingerprint is refused).
 */
import { TrustStoreError } from '../../errors.js';
import type { KeyRole, KeyScope } from '../../protocol.js';
import { buildTrustedKey, type TrustedKey } from '../trusted-key.js';

/** Largest stored entry read, in bytes (a JWK plus a full scope is a few KiB). */
export const MAX_STORED_ENTRY_BYTES = 64 * 1024;

/** A stored entry with the store version it was written at. */
export interface StoredTrustEntry {
  /** Store version of the write that produced this entry. */
  readonly version: number;
  readonly key: TrustedKey;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The JSON written for a key (the same fields as a line of the trust-store file). */
export function serializeTrustedKey(key: TrustedKey): string {
  const { id, role, scope, publicKey, fingerprint, createdAt } = key;
  return JSON.stringify({ id, role, scope, publicKey, fingerprint, createdAt });
}

/**
 * Parses and validates an entry's JSON (the `entry` part of a hash value or a stream entry).
 * `expectedId`, when given, is the hash field or stream field the entry was stored under.
 *
 * @throws {TrustStoreError} saying what is wrong (never echoing key material).
 */
export async function parseTrustedKeyJson(text: unknown, expectedId?: string): Promise<TrustedKey> {
  if (typeof text !== 'string') throw new TrustStoreError('entry is not a string');
  if (text.length > MAX_STORED_ENTRY_BYTES) throw new TrustStoreError(`entry is larger than ${MAX_STORED_ENTRY_BYTES} bytes`);
  let entry: unknown;
  try {
    entry = JSON.parse(text);
  } catch {
    throw new TrustStoreError('entry is not JSON');
  }
  if (!isRecord(entry)) throw new TrustStoreError('entry is not an object');
  if (typeof entry.createdAt !== 'string' || Number.isNaN(Date.parse(entry.createdAt))) throw new TrustStoreError('createdAt is not an ISO date');
  let key: TrustedKey;
  try {
    key = await buildTrustedKey(
      { id: entry.id as string, publicKey: entry.publicKey, role: entry.role as KeyRole, scope: entry.scope as KeyScope },
      entry.createdAt,
    );
  } catch (error) {
    throw new TrustStoreError((error as Error).message, { cause: error });
  }
  if (expectedId !== undefined && key.id !== expectedId) throw new TrustStoreError(`entry id "${key.id}" is stored under "${expectedId.slice(0, 64)}"`);
  if (entry.fingerprint !== key.fingerprint) throw new TrustStoreError(`entry "${key.id}": fingerprint does not match its public key`);
  return key;
}

/** The hash value for a key written at `version`: `{"version":N,"entry":{...}}`. */
export function hashValueOf(version: number, entryJson: string): string {
  return `{"version":${version},"entry":${entryJson}}`;
}

/**
 * Parses a hash value written by the store's script (`{"version":N,"entry":{...}}`).
 *
 * @throws {TrustStoreError} saying what is wrong.
 */
export async function parseStoredTrustEntry(value: unknown, field: string): Promise<StoredTrustEntry> {
  if (typeof value !== 'string') throw new TrustStoreError('value is not a string');
  if (value.length > MAX_STORED_ENTRY_BYTES + 64) throw new TrustStoreError(`value is larger than ${MAX_STORED_ENTRY_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new TrustStoreError('value is not JSON');
  }
  if (!isRecord(parsed) || !Number.isSafeInteger(parsed.version) || (parsed.version as number) < 1) {
    throw new TrustStoreError('value is not { version, entry }');
  }
  const key = await parseTrustedKeyJson(JSON.stringify(parsed.entry), field);
  return { version: parsed.version as number, key };
}
