/**
 * {@link CertificateStorage} in a directory (by default `acme/` inside the trust store's directory):
 * `account-<hash>.json` per ACME directory, `certificates/<name>.json`, and `locks/<name>.lock`. Files
 * are written atomically (tmp file in the same directory, fsync, rename) with mode 0600, since they hold
 * private keys. File names come only from validated certificate names (DNS labels, no `/`, no `..`) and
 * a hash of the directory URL. Challenge answers live in memory: one proxy answers its own challenges.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { AcmeError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/fs/write-file-atomic.js';
import { certificateName } from './certificate-name.js';
import type { CertificateStorage, StorageLock, StoredAccount, StoredCertificate } from './certificate-storage.js';
import { parseStoredAccount } from './stored-account.js';
import { parseStoredCertificate, serializeCertificate } from './stored-certificate.js';

/** Largest file read back, in bytes (a chain and a key are a few KB). */
const MAX_FILE_BYTES = 256 * 1024;

function checkedName(name: string): string {
  const normalized = certificateName(name);
  if (normalized === undefined || normalized !== name) throw new AcmeError(`not a certificate name: ${JSON.stringify(String(name).slice(0, 80))}`);
  return normalized;
}

/** Writes `body` to `file` atomically with mode 0600. */
async function writeAtomic(file: string, body: string): Promise<void> {
  try {
    await writeFileAtomic(file, body);
  } catch (error) {
    throw new AcmeError(`cannot write ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** Reads and parses a JSON file; undefined when absent, unreadable, too large or not JSON. */
async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      if (size > MAX_FILE_BYTES) return undefined;
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Certificates, account and locks as files in one directory. */
export class FileCertificateStorage implements CertificateStorage {
  readonly #dir: string;
  readonly #challenges = new Map<string, { value: string; expires: number }>();
  #ready: Promise<void> | undefined;

  /** @param dir created (mode 0700) on first use. */
  constructor(dir: string) {
    this.#dir = path.resolve(dir);
  }

  /** The directory. */
  get dir(): string {
    return this.#dir;
  }

  #prepare(): Promise<void> {
    this.#ready ??= (async () => {
      for (const sub of ['', 'certificates', 'locks']) await mkdir(path.join(this.#dir, sub), { recursive: true, mode: 0o700 });
    })().catch((error: unknown) => {
      this.#ready = undefined;
      throw new AcmeError(`cannot create the certificate directory ${this.#dir}: ${(error as Error).message}`, { cause: error });
    });
    return this.#ready;
  }

  #accountFile(directoryUrl: string): string {
    return path.join(this.#dir, `account-${createHash('sha256').update(directoryUrl).digest('hex').slice(0, 16)}.json`);
  }

  async readAccount(directoryUrl: string): Promise<StoredAccount | undefined> {
    return parseStoredAccount(await readJson(this.#accountFile(directoryUrl)), directoryUrl);
  }

  async writeAccount(account: StoredAccount): Promise<void> {
    await this.#prepare();
    await writeAtomic(this.#accountFile(account.directoryUrl), `${JSON.stringify({ directoryUrl: account.directoryUrl, key: account.key, url: account.url })}\n`);
  }

  async readCertificate(name: string): Promise<StoredCertificate | undefined> {
    return parseStoredCertificate(await readJson(path.join(this.#dir, 'certificates', `${checkedName(name)}.json`)), name);
  }

  async writeCertificate(certificate: StoredCertificate): Promise<void> {
    await this.#prepare();
    await writeAtomic(path.join(this.#dir, 'certificates', `${checkedName(certificate.name)}.json`), `${serializeCertificate(certificate)}\n`);
  }

  async listCertificates(): Promise<string[]> {
    let files: string[];
    try {
      files = await readdir(path.join(this.#dir, 'certificates'));
    } catch {
      return [];
    }
    const names: string[] = [];
    for (const file of files) {
      if (!file.endsWith('.json')) continue;
      const name = certificateName(file.slice(0, -5));
      if (name !== undefined && `${name}.json` === file) names.push(name);
    }
    return names.sort();
  }

  /**
   * An exclusive-create lock file holding its expiry; an expired one is taken over. Good enough for
   * processes sharing a directory on one machine (a fleet uses the Redis backend).
   */
  async lock(name: string, ttlMs: number): Promise<StorageLock | undefined> {
    await this.#prepare();
    const file = path.join(this.#dir, 'locks', `${checkedName(name)}.lock`);
    const token = randomBytes(16).toString('hex');
    const body = JSON.stringify({ token, expires: Date.now() + ttlMs });
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        const handle = await open(file, 'wx', 0o600);
        try {
          await handle.writeFile(body, 'utf8');
        } finally {
          await handle.close();
        }
        return {
          release: async () => {
            const held = (await readJson(file)) as { token?: unknown } | undefined;
            if (held?.token === token) await unlink(file).catch(() => undefined);
          },
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new AcmeError(`cannot take the lock ${file}: ${(error as Error).message}`, { cause: error });
        const held = (await readJson(file)) as { expires?: unknown } | undefined;
        if (typeof held?.expires === 'number' && held.expires > Date.now()) return undefined;
        // Expired (or unreadable): the holder is gone; take it over once.
        await unlink(file).catch(() => undefined);
      }
    }
    return undefined;
  }

  async writeChallenge(token: string, keyAuthorization: string, ttlMs: number): Promise<void> {
    this.#challenges.set(token, { value: keyAuthorization, expires: Date.now() + ttlMs });
  }

  async readChallenge(token: string): Promise<string | undefined> {
    const entry = this.#challenges.get(token);
    if (entry === undefined) return undefined;
    if (entry.expires <= Date.now()) {
      this.#challenges.delete(token);
      return undefined;
    }
    return entry.value;
  }

  async removeChallenge(token: string): Promise<void> {
    this.#challenges.delete(token);
  }

  async close(): Promise<void> {
    this.#challenges.clear();
  }
}
