/**
 * {@link CertificateStorage} on Redis, for a fleet of proxies: one proxy obtains a certificate and every
 * proxy serves it. The per-name lock is `SET NX PX` with a random token, released only by its holder
 * (compare-and-delete in Lua), so proxies do not all ask the CA and a crashed holder blocks the others
 * for at most the lock's lifetime. Challenge answers are shared with a TTL, because the CA may dial any
 * proxy behind the name. Everything read back is validated like a file.
 *
 * Keys (prefix `inteli:acme:` by default): `account:<hash of the directory URL>`, `cert:<name>`, the set
 * `certs`, `lock:<name>`, `challenge:<token>`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { AcmeError, InvalidOptionError } from '../../shared/errors.js';
import { certificateName } from './certificate-name.js';
import type { CertificateStorage, StorageLock, StoredAccount, StoredCertificate } from './certificate-storage.js';
import { parseStoredAccount } from './stored-account.js';
import { parseStoredCertificate, serializeCertificate } from './stored-certificate.js';

/** Default key prefix. */
export const DEFAULT_REDIS_ACME_PREFIX = 'inteli:acme:';

/** Deletes the lock only when it still holds this holder's token. */
const RELEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/** Options of {@link RedisCertificateStorage}. */
export interface RedisCertificateStorageOptions {
  /** `redis://host:port` (the same server as the fleet's trust store, `PROXY_REDIS_URL`). */
  readonly url: string;
  /** Key prefix. Default `inteli:acme:`. */
  readonly prefix?: string;
  /** Receives connection errors (the client reconnects by itself). Default: ignored. */
  readonly onError?: (error: Error) => void;
}

type Client = ReturnType<typeof createClient>;

function parseJson(text: string | null): unknown {
  if (text === null || text.length > 256 * 1024) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Certificates, account, locks and challenge answers in Redis. */
export class RedisCertificateStorage implements CertificateStorage {
  readonly #client: Client;
  readonly #prefix: string;
  #connecting: Promise<void> | undefined;
  #closed = false;

  constructor(options: RedisCertificateStorageOptions) {
    if (typeof options?.url !== 'string' || !/^rediss?:\/\//.test(options.url)) throw new InvalidOptionError('url must be a redis:// or rediss:// URL');
    const prefix = options.prefix ?? DEFAULT_REDIS_ACME_PREFIX;
    // 64 characters of a fleet's own prefix, plus `acme:`.
    if (typeof prefix !== 'string' || !/^[\x21-\x7e]{0,80}$/.test(prefix)) throw new InvalidOptionError('prefix must be up to 80 printable characters');
    this.#prefix = prefix;
    // Without the offline queue a command fails at once while Redis is away, instead of hanging an order.
    this.#client = createClient({ url: options.url, disableOfflineQueue: true });
    const onError = options.onError;
    this.#client.on('error', (error: Error) => onError?.(error));
  }

  async #ready(): Promise<Client> {
    if (this.#closed) throw new AcmeError('the certificate storage is closed');
    this.#connecting ??= this.#client.connect().then(
      () => undefined,
      (error: unknown) => {
        this.#connecting = undefined;
        throw new AcmeError(`cannot connect to Redis: ${(error as Error).message}`, { cause: error });
      },
    );
    await this.#connecting;
    return this.#client;
  }

  #key(kind: string, id: string): string {
    return `${this.#prefix}${kind}:${id}`;
  }

  #name(name: string): string {
    if (certificateName(name) !== name) throw new AcmeError(`not a certificate name: ${JSON.stringify(String(name).slice(0, 80))}`);
    return name;
  }

  #accountKey(directoryUrl: string): string {
    return this.#key('account', createHash('sha256').update(directoryUrl).digest('hex').slice(0, 16));
  }

  async readAccount(directoryUrl: string): Promise<StoredAccount | undefined> {
    const client = await this.#ready();
    return parseStoredAccount(parseJson(await client.get(this.#accountKey(directoryUrl))), directoryUrl);
  }

  async writeAccount(account: StoredAccount): Promise<void> {
    const client = await this.#ready();
    await client.set(this.#accountKey(account.directoryUrl), JSON.stringify({ directoryUrl: account.directoryUrl, key: account.key, url: account.url }));
  }

  async readCertificate(name: string): Promise<StoredCertificate | undefined> {
    const client = await this.#ready();
    return parseStoredCertificate(parseJson(await client.get(this.#key('cert', this.#name(name)))), name);
  }

  async writeCertificate(certificate: StoredCertificate): Promise<void> {
    const client = await this.#ready();
    const name = this.#name(certificate.name);
    await client.multi().set(this.#key('cert', name), serializeCertificate(certificate)).sAdd(`${this.#prefix}certs`, name).exec();
  }

  async listCertificates(): Promise<string[]> {
    const client = await this.#ready();
    const members = await client.sMembers(`${this.#prefix}certs`);
    return members.filter((name) => certificateName(name) === name).sort();
  }

  async lock(name: string, ttlMs: number): Promise<StorageLock | undefined> {
    const client = await this.#ready();
    const key = this.#key('lock', this.#name(name));
    const token = randomBytes(16).toString('hex');
    const taken = await client.set(key, token, { condition: 'NX', expiration: { type: 'PX', value: ttlMs } });
    if (taken !== 'OK') return undefined;
    let released = false;
    return {
      release: async () => {
        if (released || this.#closed) return;
        released = true;
        await client.eval(RELEASE_SCRIPT, { keys: [key], arguments: [token] });
      },
    };
  }

  async writeChallenge(token: string, keyAuthorization: string, ttlMs: number): Promise<void> {
    const client = await this.#ready();
    await client.set(this.#key('challenge', token), keyAuthorization, { expiration: { type: 'PX', value: ttlMs } });
  }

  async readChallenge(token: string): Promise<string | undefined> {
    const client = await this.#ready();
    const value = await client.get(this.#key('challenge', token));
    return value === null ? undefined : value;
  }

  async removeChallenge(token: string): Promise<void> {
    const client = await this.#ready();
    await client.del(this.#key('challenge', token));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#connecting === undefined) return;
    await this.#connecting.catch(() => undefined);
    if (this.#client.isOpen) await this.#client.close().catch(() => undefined);
  }
}
