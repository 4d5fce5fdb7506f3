/**
 * The trust store: which public keys may open a control-plane session, with which role and scope.
 *
 * One JSON file, `<dir>/trust-store.json`, replaces the original's file-per-id layout, whose ids were
 * concatenated into paths (path traversal). Ids are validated and never become part of a path. Every
 * write is atomic (tmp file in the same directory, fsync, rename; mode 0600) so a crash leaves either the
 * old or the new file, and a corrupt file is an error naming the file, never an empty store.
 *
 * Mutations run one at a time through a promise queue, so concurrent `add`/`remove` calls never lose an
 * entry. Each mutation first re-reads the file (emitting the diff), so an edit made by another process
 * (the `inteli-sysadmin` CLI working offline) is not overwritten. `added`/`removed` events let the control
 * plane close the sessions of a removed key at once.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ProxyError, TrustStoreError, InvalidOptionError } from '../../shared/errors.js';
import { assertValidAgentId } from '../../shared/identity/agent-id.js';
import { parsePublicJwk, type Ed25519PublicJwk } from '../../shared/identity/jwk.js';
import { fingerprint as thumbprint } from '../../shared/identity/fingerprint.js';
import type { KeyRole, KeyScope } from '../../shared/protocol.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { parseKeyScope } from './key-scope.js';

export type { KeyRole, KeyScope } from '../../shared/protocol.js';

/** Name of the store file inside the store directory. */
export const TRUST_STORE_FILE = 'trust-store.json';
/** Format version written into the file. */
export const TRUST_STORE_VERSION = 1;
/** Most keys one store holds; a bound so a hostile or broken file cannot exhaust memory. */
export const MAX_TRUSTED_KEYS = 10_000;

/** One trusted key. Frozen; a change replaces the object. */
export interface TrustedKey {
  readonly id: string;
  readonly publicKey: Ed25519PublicJwk;
  /** RFC 7638 SHA-256 thumbprint of `publicKey`, base64url. */
  readonly fingerprint: string;
  readonly role: KeyRole;
  readonly scope: Readonly<KeyScope>;
  /** ISO 8601 time the key was added. */
  readonly createdAt: string;
}

/** Input of {@link TrustStore.add}. */
export interface AddKeyInput {
  id: string;
  /** Ed25519 public JWK (validated at run time; a JWK with `d` is refused). */
  publicKey: unknown;
  /** Default `agent`. */
  role?: KeyRole;
  /** Default `{}`: no rules beyond what the proxy allows by default, targets on the agent's own address. */
  scope?: KeyScope;
}

/** Options of {@link TrustStore.add}. */
export interface AddKeyOptions {
  /** Replace an existing key with the same id (emits `removed` for the old one, then `added`). Default false. */
  replace?: boolean;
}

/** Options of {@link TrustStore.open} and {@link TrustStore.inMemory}. */
export interface TrustStoreOptions {
  /** Logger for listener failures. Default silent. */
  logger?: Logger;
  /** Clock for `createdAt`, for tests. Default `Date.now`. */
  now?: () => number;
}

/** Events of {@link TrustStore}. */
export interface TrustStoreEvents {
  added: [key: TrustedKey];
  removed: [key: TrustedKey];
}

const ROLES: ReadonlySet<string> = new Set(['agent', 'admin']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Builds a frozen {@link TrustedKey} from untrusted input; throws a ProxyError naming the problem. */
async function buildKey(input: AddKeyInput, createdAt: string): Promise<TrustedKey> {
  const id = assertValidAgentId(input.id);
  const publicKey = parsePublicJwk(input.publicKey);
  const role = input.role ?? 'agent';
  if (!ROLES.has(role)) throw new InvalidOptionError(`role: expected "agent" or "admin", got ${JSON.stringify(String(role)).slice(0, 40)}`);
  const scope = parseKeyScope(input.scope ?? {});
  return Object.freeze({ id, publicKey, fingerprint: await thumbprint(publicKey), role, scope, createdAt });
}

function sameKey(a: TrustedKey, b: TrustedKey): boolean {
  return a.fingerprint === b.fingerprint && a.role === b.role && JSON.stringify(a.scope) === JSON.stringify(b.scope);
}

/**
 * Trusted public keys, backed by one JSON file (or memory, for tests).
 *
 * Events: `added(key)`, `removed(key)`. A listener that throws is logged and ignored.
 */
export class TrustStore extends EventEmitter<TrustStoreEvents> {
  readonly #file: string | undefined;
  readonly #logger: Logger;
  readonly #now: () => number;
  #keys = new Map<string, TrustedKey>();
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(file: string | undefined, options: TrustStoreOptions) {
    super();
    this.#file = file;
    this.#logger = (options.logger ?? silentLogger()).child({ component: 'trust-store' });
    this.#now = options.now ?? Date.now;
  }

  /**
   * Opens (and creates, mode 0700) the store directory and loads `trust-store.json` from it; a missing
   * file is an empty store.
   *
   * @throws {TrustStoreError} (`RP_ERR_TRUST_STORE`) when the file is unreadable or corrupt (the message
   * names the file; the store is never silently emptied).
   */
  static async open(dir: string, options: TrustStoreOptions = {}): Promise<TrustStore> {
    if (typeof dir !== 'string' || dir.length === 0) throw new InvalidOptionError('dir: expected a directory path');
    const resolved = path.resolve(dir);
    try {
      await mkdir(resolved, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new TrustStoreError(`cannot create trust store directory ${resolved}: ${(error as Error).message}`, { cause: error });
    }
    const store = new TrustStore(path.join(resolved, TRUST_STORE_FILE), options);
    store.#keys = await store.#readFile();
    return store;
  }

  /** A store that lives only in memory (tests, embedded use). */
  static inMemory(options: TrustStoreOptions = {}): TrustStore {
    return new TrustStore(undefined, options);
  }

  /** Path of the backing file, or undefined for an in-memory store. */
  get file(): string | undefined {
    return this.#file;
  }

  /** The key with this id, or undefined (also for an invalid id). */
  get(id: string): TrustedKey | undefined {
    return typeof id === 'string' ? this.#keys.get(id) : undefined;
  }

  /** Every key, sorted by id. */
  list(): TrustedKey[] {
    return [...this.#keys.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Number of keys. */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * Trusts a public key.
   *
   * @throws {InvalidIdError} | {InvalidKeyError} | {InvalidOptionError} for bad input (nothing is written).
   * @throws {ProxyError} `RP_ERR_ALREADY_EXISTS` when the id exists and `replace` is not set.
   * @throws {TrustStoreError} when the file cannot be read or written (the store is unchanged).
   */
  async add(input: AddKeyInput, options: AddKeyOptions = {}): Promise<TrustedKey> {
    // Validation happens before queueing so bad input never touches the file system.
    if (!isRecord(input)) throw new InvalidOptionError('add: expected { id, publicKey, role?, scope? }');
    const key = await buildKey(input, new Date(this.#now()).toISOString());
    return this.#enqueue(async () => {
      await this.#sync();
      const previous = this.#keys.get(key.id);
      if (previous !== undefined && options.replace !== true) {
        throw new ProxyError('RP_ERR_ALREADY_EXISTS', `a key with id "${key.id}" already exists (use replace to overwrite it)`);
      }
      const next = new Map(this.#keys);
      next.set(key.id, key);
      await this.#write(next);
      this.#keys = next;
      if (previous !== undefined) this.#emit('removed', previous);
      this.#emit('added', key);
      return key;
    });
  }

  /**
   * Removes a key. Returns false when there was none with this id (an invalid id is simply absent).
   *
   * @throws {TrustStoreError} when the file cannot be read or written (the store is unchanged).
   */
  async remove(id: string): Promise<boolean> {
    if (typeof id !== 'string') return false;
    return this.#enqueue(async () => {
      await this.#sync();
      const previous = this.#keys.get(id);
      if (previous === undefined) return false;
      const next = new Map(this.#keys);
      next.delete(id);
      await this.#write(next);
      this.#keys = next;
      this.#emit('removed', previous);
      return true;
    });
  }

  /**
   * Re-reads the file and emits `removed`/`added` for every difference (a changed key emits both).
   * No-op for an in-memory store.
   *
   * @throws {TrustStoreError} when the file is unreadable or corrupt (the loaded keys stay as they were).
   */
  async reload(): Promise<void> {
    await this.#enqueue(() => this.#sync());
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    // The queue itself must never reject, or every later task would be skipped.
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #sync(): Promise<void> {
    if (this.#file === undefined) return;
    const loaded = await this.#readFile();
    const previous = this.#keys;
    this.#keys = loaded;
    for (const [id, old] of previous) {
      const now = loaded.get(id);
      if (now === undefined || !sameKey(old, now)) this.#emit('removed', old);
    }
    for (const [id, now] of loaded) {
      const old = previous.get(id);
      if (old === undefined || !sameKey(old, now)) this.#emit('added', now);
    }
  }

  #emit(event: 'added' | 'removed', key: TrustedKey): void {
    try {
      this.emit(event, key);
    } catch (error) {
      this.#logger.error({ err: error, event, keyId: key.id }, 'trust store listener threw');
    }
  }

  async #readFile(): Promise<Map<string, TrustedKey>> {
    const file = this.#file as string;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw new TrustStoreError(`cannot read trust store ${file}: ${(error as Error).message}`, { cause: error });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new TrustStoreError(`trust store ${file} is corrupt (not JSON); fix or restore it, it was not modified`, { cause: error });
    }
    if (!isRecord(parsed) || parsed.version !== TRUST_STORE_VERSION || !Array.isArray(parsed.keys)) {
      throw new TrustStoreError(`trust store ${file} is corrupt: expected { "version": ${TRUST_STORE_VERSION}, "keys": [...] }`);
    }
    if (parsed.keys.length > MAX_TRUSTED_KEYS) {
      throw new TrustStoreError(`trust store ${file} holds more than ${MAX_TRUSTED_KEYS} keys`);
    }
    const keys = new Map<string, TrustedKey>();
    for (const [index, entry] of parsed.keys.entries()) {
      try {
        if (!isRecord(entry)) throw new TrustStoreError('not an object');
        if (typeof entry.createdAt !== 'string' || Number.isNaN(Date.parse(entry.createdAt))) {
          throw new TrustStoreError('createdAt is not an ISO date');
        }
        const key = await buildKey(
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

  async #write(keys: Map<string, TrustedKey>): Promise<void> {
    const file = this.#file;
    if (file === undefined) return;
    const dir = path.dirname(file);
    const entries = [...keys.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map(({ id, publicKey, fingerprint, role, scope, createdAt }) => ({ id, role, scope, publicKey, fingerprint, createdAt }));
    const body = `${JSON.stringify({ version: TRUST_STORE_VERSION, keys: entries }, null, 2)}\n`;
    // The tmp name comes from random bytes, never from an id, and lives in the same directory so the
    // rename is atomic (same file system).
    const tmp = path.join(dir, `.${TRUST_STORE_FILE}.${randomBytes(8).toString('hex')}.tmp`);
    try {
      const handle = await open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(body, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, file);
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw new TrustStoreError(`cannot write trust store ${file}: ${(error as Error).message}`, { cause: error });
    }
    // fsync the directory so the rename itself survives a power loss; not every platform allows it.
    try {
      const handle = await open(dir, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch {
      // Best effort only.
    }
  }
}
