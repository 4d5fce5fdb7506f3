/**
 * The trust store's file: `{ "version": 1, "keys": [...] }`, read with full validation and written
 * atomically (tmp file in the same directory, fsync, rename, fsync of the directory; mode 0600). A crash
 * leaves the old or the new file, never half of one; a corrupt file is an error naming the file.
 */
import { constants as fsConstants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { TrustStoreError } from '../errors.js';
import { writeFileAtomic } from '../fs/write-file-atomic.js';
import type { KeyRole, KeyScope } from '../protocol.js';
import { buildTrustedKey, byId, type TrustedKey } from './trusted-key.js';

/** Name of the store file inside the store directory. */
export const TRUST_STORE_FILE = 'trust-store.json';
/** Format version written into the file. */
export const TRUST_STORE_VERSION = 1;
/** Most keys one store holds; a bound so a hostile or broken file cannot exhaust memory. */
export const MAX_TRUSTED_KEYS = 10_000;
/** Largest store file read, in bytes (10,000 keys with scopes fit easily). */
export const MAX_TRUST_STORE_BYTES = 64 * 1024 * 1024;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads the store file as text; undefined when it does not exist. Only a regular file is read (issue 14):
 * a symbolic link in its place is refused, not followed (it could point the proxy at any file, or make a
 * store it writes land elsewhere), and a FIFO or device is refused, not waited on (opening a FIFO blocks
 * until a writer comes). The file is opened with `O_NOFOLLOW | O_NONBLOCK` and checked again through the
 * open handle, so swapping it between the check and the open changes nothing.
 *
 * @throws {TrustStoreError} naming the file.
 */
async function readRegularFile(file: string): Promise<string | undefined> {
  let info;
  try {
    info = await lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TrustStoreError(`cannot read trust store ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (info.isSymbolicLink()) throw new TrustStoreError(`trust store ${file} is a symbolic link; refused (a store file must be a regular file, it is never followed)`);
  if (!info.isFile()) throw new TrustStoreError(`trust store ${file} is not a regular file (a FIFO, socket, device or directory); refused`);
  let handle;
  try {
    handle = await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    const reason = (error as NodeJS.ErrnoException).code === 'ELOOP' ? 'it became a symbolic link; refused' : (error as Error).message;
    throw new TrustStoreError(`cannot read trust store ${file}: ${reason}`, { cause: error });
  }
  try {
    const opened = await handle.stat();
    if (!opened.isFile()) throw new TrustStoreError(`trust store ${file} is not a regular file; refused`);
    if (opened.size > MAX_TRUST_STORE_BYTES) throw new TrustStoreError(`trust store ${file} is larger than ${MAX_TRUST_STORE_BYTES} bytes`);
    return await handle.readFile('utf8');
  } catch (error) {
    if (error instanceof TrustStoreError) throw error;
    throw new TrustStoreError(`cannot read trust store ${file}: ${(error as Error).message}`, { cause: error });
  } finally {
    await handle.close();
  }
}

/**
 * Reads and validates the store file; a missing file is an empty store.
 *
 * @throws {TrustStoreError} naming the file (and the entry) when it is unreadable or corrupt.
 */
export async function readTrustStoreFile(file: string): Promise<Map<string, TrustedKey>> {
  const text = await readRegularFile(file);
  if (text === undefined) return new Map();
  if (text.length > MAX_TRUST_STORE_BYTES) throw new TrustStoreError(`trust store ${file} is larger than ${MAX_TRUST_STORE_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TrustStoreError(`trust store ${file} is corrupt (not JSON); fix or restore it, it was not modified`, { cause: error });
  }
  if (!isRecord(parsed) || parsed.version !== TRUST_STORE_VERSION || !Array.isArray(parsed.keys)) {
    throw new TrustStoreError(`trust store ${file} is corrupt: expected { "version": ${TRUST_STORE_VERSION}, "keys": [...] }`);
  }
  if (parsed.keys.length > MAX_TRUSTED_KEYS) throw new TrustStoreError(`trust store ${file} holds more than ${MAX_TRUSTED_KEYS} keys`);
  const keys = new Map<string, TrustedKey>();
  for (const [index, entry] of parsed.keys.entries()) {
    try {
      if (!isRecord(entry)) throw new TrustStoreError('not an object');
      if (typeof entry.createdAt !== 'string' || Number.isNaN(Date.parse(entry.createdAt))) throw new TrustStoreError('createdAt is not an ISO date');
      const key = await buildTrustedKey(
        { id: entry.id as string, publicKey: entry.publicKey, role: entry.role as KeyRole, scope: entry.scope as KeyScope },
        entry.createdAt,
      );
      if (keys.has(key.id)) throw new TrustStoreError(`duplicate id "${key.id}"`);
      keys.set(key.id, key);
    } catch (error) {
      throw new TrustStoreError(`trust store ${file} is corrupt: entry ${index}: ${(error as Error).message}`, { cause: error });
    }
  }
  return keys;
}

/**
 * Writes the keys atomically with mode 0600.
 *
 * @throws {TrustStoreError} when the file cannot be written (the old file is untouched, no tmp file stays).
 */
export async function writeTrustStoreFile(file: string, keys: ReadonlyMap<string, TrustedKey>): Promise<void> {
  const entries = [...keys.values()]
    .sort(byId)
    .map(({ id, publicKey, fingerprint, role, scope, createdAt }) => ({ id, role, scope, publicKey, fingerprint, createdAt }));
  const body = `${JSON.stringify({ version: TRUST_STORE_VERSION, keys: entries }, null, 2)}\n`;
  try {
    await writeFileAtomic(file, body);
  } catch (error) {
    throw new TrustStoreError(`cannot write trust store ${file}: ${(error as Error).message}`, { cause: error });
  }
}
