/**
 * The ACME adapter: the only file that imports `acme-client`. It keeps one account per directory (its key
 * and URL in storage, created on first use), and obtains a certificate for one name with an HTTP-01
 * challenge whose answer it publishes through the {@link ChallengeResponder}.
 *
 * `acme-client` talks through one module-wide axios instance. Its settings are process-wide, so instead
 * of changing them this adapter adds a request interceptor (removed on `stop()`) that applies only to
 * requests for its own directory's origin: the extra CA certificates, a per-request timeout, and no
 * in-request retries (the library would retry a refused connection five times over 75 s; the
 * certificate manager has its own backoff).
 */
import { Agent } from 'node:https';
import { Client, axios, crypto as acmeCrypto } from 'acme-client';
import { AcmeError, TimeoutError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { ResolvedAcmeOptions } from './acme-options.js';
import type { CertificateStorage, StoredCertificate } from './certificate-storage.js';
import type { ChallengeResponder } from './challenge-responder.js';
import { parseStoredCertificate } from './stored-certificate.js';

/** Status polls of one order before the library gives up (with its own backoff between them). */
const POLL_ATTEMPTS = 10;
/** Marks a request config as already retried to the library's limit, so it never retries it. */
const NO_RETRY = 1_000_000;

/** The fields of an axios request config the interceptor reads and sets. */
interface RequestConfig {
  url?: string | undefined;
  timeout?: number | undefined;
  httpsAgent?: unknown;
  retryAttempt?: number;
}

/** Obtains certificates from one ACME directory. */
export class AcmeIssuer {
  readonly #options: ResolvedAcmeOptions;
  readonly #storage: CertificateStorage;
  readonly #challenges: ChallengeResponder;
  readonly #logger: Logger;
  readonly #origin: string;
  readonly #agent: Agent | undefined;
  #interceptor: number | undefined;
  #client: Promise<Client> | undefined;

  constructor(options: ResolvedAcmeOptions, storage: CertificateStorage, challenges: ChallengeResponder, logger: Logger) {
    this.#options = options;
    this.#storage = storage;
    this.#challenges = challenges;
    this.#logger = logger;
    this.#origin = new URL(options.directoryUrl).origin;
    this.#agent = options.caCertificates === undefined ? undefined : new Agent({ ca: options.caCertificates, keepAlive: true });
  }

  /** Installs the request interceptor. Idempotent. */
  start(): void {
    if (this.#interceptor !== undefined) return;
    this.#interceptor = axios.interceptors.request.use((config) => {
      const request = config as RequestConfig;
      if (request.url === undefined || !sameOrigin(request.url, this.#origin)) return config;
      request.timeout = this.#options.requestTimeoutMs;
      if (this.#agent !== undefined) request.httpsAgent = this.#agent;
      request.retryAttempt ??= NO_RETRY;
      return config;
    });
  }

  /** Removes the interceptor and closes kept-alive connections. Idempotent. */
  stop(): void {
    if (this.#interceptor !== undefined) axios.interceptors.request.eject(this.#interceptor);
    this.#interceptor = undefined;
    this.#agent?.destroy();
    this.#client = undefined;
  }

  /**
   * Orders a certificate for `name` (already checked against the allowed names) and returns it with a new
   * key. Bounded by `orderTimeoutMs`.
   *
   * @throws {AcmeError} when the CA refuses, cannot be reached, or returns an unusable certificate.
   */
  async issue(name: string): Promise<StoredCertificate> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`the order for ${name} took longer than ${this.#options.orderTimeoutMs} ms`)), this.#options.orderTimeoutMs);
    });
    try {
      return await Promise.race([this.#issue(name), timeout]);
    } catch (error) {
      if (error instanceof AcmeError) throw error;
      const message = describe(error);
      // The CA forgot the account (a test CA restarted, an account deactivated): register again next time.
      if (message.includes('accountDoesNotExist')) this.#client = undefined;
      throw new AcmeError(`could not obtain a certificate for ${name}: ${message}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  async #issue(name: string): Promise<StoredCertificate> {
    const client = await this.#account();
    const [key, csr] = await acmeCrypto.createCsr({ commonName: name, altNames: [name] }, await acmeCrypto.createPrivateEcdsaKey());
    const tokens: string[] = [];
    try {
      const cert = await client.auto({
        csr,
        ...(this.#options.email === undefined ? {} : { email: this.#options.email }),
        termsOfServiceAgreed: this.#options.termsOfServiceAgreed,
        // The CA checks the challenge; a self-check would dial port 80 of the name from inside the proxy.
        skipChallengeVerification: true,
        challengePriority: ['http-01'],
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
          if (challenge.type !== 'http-01') throw new AcmeError(`unsupported challenge type ${challenge.type}`);
          tokens.push(challenge.token);
          await this.#challenges.publish(challenge.token, keyAuthorization, this.#options.orderTimeoutMs);
        },
        challengeRemoveFn: async (_authz, challenge) => {
          await this.#challenges.withdraw(challenge.token);
        },
      });
      const certificate = parseStoredCertificate({ name, cert, key: key.toString() }, name);
      if (certificate === undefined) throw new AcmeError(`the CA returned a certificate for ${name} that does not match its name or key`);
      return certificate;
    } finally {
      // challengeRemoveFn is not called on every failure path; never leave an answer published.
      for (const token of tokens) await this.#challenges.withdraw(token).catch(() => undefined);
    }
  }

  /** The account client, registered once per directory and kept in storage. */
  #account(): Promise<Client> {
    this.#client ??= this.#openAccount().catch((error: unknown) => {
      this.#client = undefined;
      throw error;
    });
    return this.#client;
  }

  async #openAccount(): Promise<Client> {
    const { directoryUrl, pollIntervalMs } = this.#options;
    const stored = await this.#storage.readAccount(directoryUrl);
    const accountKey = stored?.key ?? (await acmeCrypto.createPrivateEcdsaKey()).toString();
    const polling = { backoffAttempts: POLL_ATTEMPTS, backoffMin: pollIntervalMs, backoffMax: pollIntervalMs * 8 };
    const client = new Client({ directoryUrl, accountKey, ...polling, ...(stored?.url === undefined ? {} : { accountUrl: stored.url }) });
    if (stored?.url !== undefined) return client;
    await client.createAccount({
      termsOfServiceAgreed: this.#options.termsOfServiceAgreed,
      ...(this.#options.email === undefined ? {} : { contact: [`mailto:${this.#options.email}`] }),
    });
    await this.#storage.writeAccount({ directoryUrl, key: accountKey, url: client.getAccountUrl() });
    this.#logger.info({ directoryUrl }, 'ACME account registered');
    return client;
  }
}

function sameOrigin(url: string, origin: string): boolean {
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}

/** A short description of an ACME failure (axios errors carry a code, ACME problems a type and detail). */
function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === undefined || error.message.includes(code) ? error.message : `${code}: ${error.message}`;
  }
  return String(error);
}
