/**
 * An exclusive inter-process lock on a file, for the trust store's read-modify-write. Node has no
 * `flock`, so the lock is a file created with `O_EXCL` (`open(path, 'wx')`): exactly one process can
 * create it. It holds `{ pid, acquiredAt, token }`. A lock whose pid is no longer alive, or that is older
 * than `staleMs` (a pid can be reused; no holder keeps it for more than one write), is stale and taken
 * over. Acquisition retries with a short delay up to `timeoutMs`, then fails with a clear
 * {@link TrustStoreError}; release happens in `finally` and removes the file only while it is still ours.
 *
 * Why it exists: the offline `inteli-sysadmin` CLI and the running proxy can both rewrite
 * `trust-store.json`. Without the lock, one could read, the other remove a key and write, and the first
 * then write its stale copy back: a revoked key trusted again.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { InvalidOptionError, TrustStoreError } from '../errors.js';

/** Default bound on waiting for the lock, in milliseconds. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/** Default age after which a lock is stale even when its pid is alive (pid reuse), in milliseconds. */
export const DEFAULT_LOCK_STALE_MS = 30_000;
/** Delay between two attempts, in milliseconds (a holder keeps the lock for one small write). */
const RETRY_DELAY_MS = 15;
/** Largest lock file read; a bigger one is not ours and counts as stale. */
const MAX_LOCK_BYTES = 1024;

/** Options of {@link withFileLock}. */
export interface FileLockOptions {
  /** Bound on waiting for the lock, in ms, 1 to 600000. Default 10000. */
  timeoutMs?: number;
  /** Age after which a held lock is stale, in ms, 100 to 3600000. Default 30000. */
  staleMs?: number;
}

/** Validated lock options. */
export interface ResolvedFileLockOptions {
  readonly timeoutMs: number;
  readonly staleMs: number;
}

interface LockContent {
  readonly pid: number;
  readonly acquiredAt: number;
  readonly token: string;
}

function integer(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < min || resolved > max) {
    throw new InvalidOptionError(`${name}: expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return resolved;
}

/** Applies defaults, validates and freezes. @throws {InvalidOptionError} naming `lock.timeoutMs` or `lock.staleMs`. */
export function resolveFileLockOptions(options: FileLockOptions = {}): ResolvedFileLockOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('lock: expected { timeoutMs?, staleMs? }');
  return Object.freeze({
    timeoutMs: integer('lock.timeoutMs', options.timeoutMs, DEFAULT_LOCK_TIMEOUT_MS, 1, 600_000),
    staleMs: integer('lock.staleMs', options.staleMs, DEFAULT_LOCK_STALE_MS, 100, 3_600_000),
  });
}

function parseLock(text: string): LockContent | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return undefined;
    const { pid, acquiredAt, token } = value as Record<string, unknown>;
    if (!Number.isInteger(pid) || (pid as number) <= 0 || typeof acquiredAt !== 'number' || typeof token !== 'string') return undefined;
    return { pid: pid as number, acquiredAt, token };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(file: string): Promise<string | undefined> {
  try {
    const text = await readFile(file, 'utf8');
    return text.slice(0, MAX_LOCK_BYTES + 1);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function tryCreate(file: string, content: LockContent): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(JSON.stringify(content), 'utf8');
  } finally {
    await handle.close();
  }
  return true;
}

/**
 * Removes the lock file when it is stale. Before unlinking, the file is read again and must be byte for
 * byte the stale lock seen before, so a lock another process has just taken over is left alone (the
 * window between that read and the unlink is a few microseconds; a holder that crashed in it would only
 * make a writer wait for `staleMs`).
 */
async function breakIfStale(file: string, staleMs: number, now: number): Promise<void> {
  const seen = await readLock(file);
  if (seen === undefined) return;
  const lock = seen.length > MAX_LOCK_BYTES ? undefined : parseLock(seen);
  // An unreadable lock (a holder that died between create and write) is judged by its age alone.
  if (lock !== undefined && isAlive(lock.pid) && now - lock.acquiredAt < staleMs) return;
  if (lock === undefined) {
    const info = await stat(file).catch(() => undefined);
    if (info !== undefined && now - info.mtimeMs < Math.min(staleMs, 1_000)) return;
  }
  if ((await readLock(file)) !== seen) return;
  await unlink(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/**
 * Runs `task` while holding the lock file `file` (created next to the data it protects).
 *
 * @throws {TrustStoreError} (`RP_ERR_TRUST_STORE`) when the lock cannot be taken within `timeoutMs`
 * (naming the file and its holder) or cannot be created at all; whatever `task` throws.
 */
export async function withFileLock<T>(file: string, task: () => Promise<T>, options: ResolvedFileLockOptions = resolveFileLockOptions()): Promise<T> {
  const { timeoutMs, staleMs } = options;
  const content: LockContent = { pid: process.pid, acquiredAt: Date.now(), token: randomBytes(12).toString('hex') };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await tryCreate(file, { ...content, acquiredAt: Date.now() })) break;
      await breakIfStale(file, staleMs, Date.now());
    } catch (error) {
      throw new TrustStoreError(`cannot take the trust store lock ${file}: ${(error as Error).message}`, { cause: error });
    }
    if (Date.now() >= deadline) {
      const holder = parseLock((await readLock(file).catch(() => undefined)) ?? '');
      const who = holder === undefined ? 'an unknown holder' : `pid ${holder.pid} since ${new Date(holder.acquiredAt).toISOString()}`;
      throw new TrustStoreError(`timed out after ${timeoutMs} ms waiting for the trust store lock ${file} (held by ${who}); if no proxy or sysadmin command is running, delete the file`);
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
  }
  try {
    return await task();
  } finally {
    // Only our own lock is removed: if it was taken over as stale meanwhile, the file is someone else's.
    const now = await readLock(file).catch(() => undefined);
    if (now !== undefined && parseLock(now)?.token === content.token) await unlink(file).catch(() => undefined);
  }
}
