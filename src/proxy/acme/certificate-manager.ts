/**
 * Certificates obtained automatically by ACME for the names trusted keys may serve (see
 * `allowed-names.ts`), picked per TLS handshake by SNI. The configured (or development) certificate is
 * the listener's default and the fallback whenever there is no certificate for a name: a name outside
 * every scope, a failed order, a CA that cannot be reached.
 *
 * - On demand: the first handshake for an allowed name without a certificate starts an order (at most
 *   `maxPendingOrders` at once, one per name) and waits up to `handshakeWaitMs` for it, as Caddy's
 *   on-demand TLS does; a slower order finishes in the background for the next handshake.
 * - Renewal: a sweep every `checkIntervalMs` renews certificates past `renewAtFraction` of their lifetime.
 * - Failures back off exponentially per name (`retryMinMs` doubling up to `retryMaxMs`); until then the
 *   fallback is served and no order is sent.
 * - Storage holds the account and certificates, so a restart serves them at once; a per-name lock keeps a
 *   fleet sharing one storage from ordering the same certificate several times.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { type SecureContext, createSecureContext } from 'node:tls';
import type { Logger } from '../../shared/logger.js';
import { AcmeIssuer } from './acme-issuer.js';
import type { ResolvedAcmeOptions } from './acme-options.js';
import { type ScopedKeySource, allowedCertificateNames } from './allowed-names.js';
import { certificateName } from './certificate-name.js';
import type { CertificateStorage, StoredCertificate } from './certificate-storage.js';
import { ChallengeResponder } from './challenge-responder.js';
import { FileCertificateStorage } from './file-certificate-storage.js';
import { daysLeft, renewalTime, retryDelay } from './renewal-schedule.js';

/** What the manager needs besides its options. */
export interface CertificateManagerDeps {
  /** The trusted keys whose scopes say which names are allowed (usually the trust store's `list()`). */
  readonly keys: ScopedKeySource;
  /** Directory of the file storage when `acme.storage` is not given (`<certstore>/acme`). */
  readonly storageDir: string;
  /**
   * Creates the storage used when `acme.storage` is not given, instead of files in `storageDir` (a fleet's
   * Redis). The manager owns it: it is closed at `stop()`.
   */
  readonly defaultStorage?: (() => CertificateStorage) | undefined;
  readonly logger: Logger;
  /** Clock, for tests. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/** One certificate as the metrics and status pages see it. */
export interface ManagedCertificateInfo {
  readonly name: string;
  readonly notAfter: number;
  /** Whole days until `notAfter` (negative once expired). */
  readonly daysLeft: number;
}

/** Counters of the manager (plain integers, read at scrape time). */
export interface CertificateManagerStats {
  /** Certificates obtained (first issue and renewals). */
  issued: number;
  /** Orders that failed. */
  failed: number;
  /** Handshakes for a name outside every scope (answered with the fallback certificate). */
  refusedNames: number;
}

/** Events of a {@link CertificateManager}. */
export interface CertificateManagerEvents {
  /** A certificate was obtained (or picked up from storage after another proxy renewed it). */
  issued: [certificate: { readonly name: string; readonly notAfter: number }];
  /** An order failed; the next attempt is not before `retryAt`. */
  failed: [failure: { readonly name: string; readonly error: Error; readonly retryAt: number }];
}

type SniCallback = (error: Error | null, context?: SecureContext) => void;

interface Installed {
  readonly certificate: StoredCertificate;
  readonly context: SecureContext;
}

/** Obtains, renews, stores and serves ACME certificates. */
export class CertificateManager extends EventEmitter<CertificateManagerEvents> {
  /** HTTP-01 answers; the HTTP listener calls `challenges.handle` before routing. */
  readonly challenges: ChallengeResponder;
  readonly stats: CertificateManagerStats = { issued: 0, failed: 0, refusedNames: 0 };
  readonly #options: ResolvedAcmeOptions;
  readonly #deps: CertificateManagerDeps;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #storage: CertificateStorage;
  readonly #ownsStorage: boolean;
  readonly #issuer: AcmeIssuer;
  readonly #installed = new Map<string, Installed>();
  readonly #pending = new Map<string, Promise<Installed | undefined>>();
  readonly #failures = new Map<string, { count: number; retryAt: number }>();
  #allowed: ReadonlySet<string> | undefined;
  #state: 'idle' | 'running' | 'stopped' = 'idle';
  #startPromise: Promise<void> | undefined;
  #stopPromise: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopSignal = new AbortController();

  /**
   * `SNICallback` of the HTTPS listener: the certificate of the name, obtaining it first when the name is
   * allowed, or no context (the listener's default certificate).
   */
  readonly sniCallback = (servername: string, callback: SniCallback): void => {
    try {
      this.#select(servername, callback);
    } catch (error) {
      this.#logger.error({ err: (error as Error).message }, 'certificate selection failed; serving the default certificate');
      callback(null);
    }
  };

  constructor(options: ResolvedAcmeOptions, deps: CertificateManagerDeps) {
    super();
    this.#options = options;
    this.#deps = deps;
    this.#logger = deps.logger.child({ component: 'acme' });
    this.#now = deps.now ?? Date.now;
    this.#storage = options.storage ?? deps.defaultStorage?.() ?? new FileCertificateStorage(deps.storageDir);
    this.#ownsStorage = options.storage === undefined;
    this.challenges = new ChallengeResponder(this.#storage, this.#logger);
    this.#issuer = new AcmeIssuer(options, this.#storage, this.challenges, this.#logger);
  }

  /** Loads the stored certificates of allowed names and starts the renewal sweep. Idempotent. */
  start(): Promise<void> {
    this.#startPromise ??= this.#start();
    return this.#startPromise;
  }

  /** Stops the sweep and forgets pending orders (a running order finishes unobserved). Idempotent. */
  stop(): Promise<void> {
    this.#stopPromise ??= this.#stop();
    return this.#stopPromise;
  }

  /** Call when the trusted keys change: the allowed names are recomputed on next use. */
  keysChanged(): void {
    this.#allowed = undefined;
  }

  /** True when some trusted key's scope allows a certificate for `name`. */
  isAllowed(name: string): boolean {
    this.#allowed ??= allowedCertificateNames(this.#deps.keys());
    return this.#allowed.has(name);
  }

  /** The installed certificates, for the metrics and status pages. */
  certificates(): ManagedCertificateInfo[] {
    const now = this.#now();
    return [...this.#installed.values()].map(({ certificate }) => ({ name: certificate.name, notAfter: certificate.notAfter, daysLeft: daysLeft(certificate.notAfter, now) }));
  }

  /**
   * The certificate for `name`, ordering it when the name is allowed and has none (or when `renew` is
   * set and it is due). Resolves undefined when the name is not allowed, is backing off after a failure,
   * the order bound is reached, or the order fails.
   */
  async obtain(name: string): Promise<StoredCertificate | undefined> {
    const normalized = certificateName(name);
    if (normalized === undefined) return undefined;
    const installed = this.#installed.get(normalized);
    if (installed !== undefined && !this.#due(installed.certificate)) return installed.certificate;
    return (await this.#ensure(normalized))?.certificate;
  }

  /**
   * Starts orders in the background for the allowed names among `names` that have no certificate yet
   * (the hosts of rules a backend just registered), so the first client finds its certificate ready.
   * Names outside every scope are ignored; the order bound and the backoff apply as on demand.
   */
  prefetch(names: Iterable<string | undefined>): void {
    if (this.#state !== 'running') return;
    for (const raw of names) {
      const name = certificateName(raw);
      if (name === undefined || this.#installed.has(name) || !this.isAllowed(name)) continue;
      this.#ensure(name)?.catch(() => undefined);
    }
  }

  /** Renews every installed certificate past its renewal time (the sweep; exposed for tests). */
  async renewDue(): Promise<void> {
    const due = [...this.#installed.values()].filter(({ certificate }) => this.#due(certificate) && this.isAllowed(certificate.name));
    await Promise.all(due.map(({ certificate }) => this.#ensure(certificate.name)));
  }

  async #start(): Promise<void> {
    if (this.#state !== 'idle') return;
    this.#state = 'running';
    this.#issuer.start();
    let names: string[] = [];
    try {
      names = await this.#storage.listCertificates();
    } catch (error) {
      this.#logger.warn({ err: (error as Error).message }, 'cannot list stored certificates');
    }
    for (const name of names) {
      try {
        const certificate = await this.#storage.readCertificate(name);
        if (certificate === undefined) this.#logger.warn({ name }, 'stored certificate is unusable; it will be ordered again on demand');
        else if (this.#state === 'running') this.#install(certificate);
      } catch (error) {
        this.#logger.warn({ name, err: (error as Error).message }, 'cannot read a stored certificate');
      }
    }
    if (this.#state !== 'running') return;
    this.#timer = setInterval(() => this.#sweep(), this.#options.checkIntervalMs);
    this.#timer.unref();
    this.#logger.info({ directoryUrl: this.#options.directoryUrl, certificates: this.#installed.size }, 'ACME certificate manager started');
    this.#sweep();
  }

  async #stop(): Promise<void> {
    await this.#startPromise?.catch(() => undefined);
    this.#state = 'stopped';
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#stopSignal.abort();
    this.#issuer.stop();
    this.#pending.clear();
    if (this.#ownsStorage) await this.#storage.close().catch(() => undefined);
  }

  #sweep(): void {
    this.renewDue().catch((error: unknown) => this.#logger.error({ err: (error as Error).message }, 'renewal sweep failed'));
  }

  #select(servername: string, callback: SniCallback): void {
    const name = certificateName(servername);
    if (name === undefined) {
      callback(null);
      return;
    }
    if (!this.isAllowed(name)) {
      // A name no key may serve is never ordered, and a certificate kept for it is no longer served.
      this.stats.refusedNames += 1;
      callback(null);
      return;
    }
    const installed = this.#installed.get(name);
    if (installed !== undefined) {
      callback(null, installed.context);
      return;
    }
    const pending = this.#ensure(name);
    if (pending === undefined) {
      callback(null);
      return;
    }
    let answered = false;
    const answer = (result: Installed | undefined): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      callback(null, result?.context);
    };
    const timer = setTimeout(() => answer(undefined), this.#options.handshakeWaitMs);
    pending.then(answer, () => answer(undefined));
  }

  /** The order in progress for `name`, a new one, or undefined (backing off, bound reached, stopped). */
  #ensure(name: string): Promise<Installed | undefined> | undefined {
    const pending = this.#pending.get(name);
    if (pending !== undefined) return pending;
    if (this.#state !== 'running' || !this.isAllowed(name)) return undefined;
    const failure = this.#failures.get(name);
    if (failure !== undefined && failure.retryAt > this.#now()) return undefined;
    if (this.#pending.size >= this.#options.maxPendingOrders) {
      this.#logger.warn({ name, pending: this.#pending.size }, 'too many certificate orders in progress; serving the default certificate');
      return undefined;
    }
    const order = this.#order(name).finally(() => {
      if (this.#pending.get(name) === order) this.#pending.delete(name);
    });
    this.#pending.set(name, order);
    return order;
  }

  async #order(name: string): Promise<Installed | undefined> {
    const signal = this.#stopSignal.signal;
    // Real time (not the injectable clock): this bounds how long another holder's lock is waited for.
    const deadline = performance.now() + this.#options.orderTimeoutMs;
    try {
      for (;;) {
        // Another proxy of the fleet may have obtained it already.
        const stored = await this.#storage.readCertificate(name);
        if (stored !== undefined && !this.#due(stored)) return this.#accept(stored, false);
        const lock = await this.#storage.lock(name, this.#options.orderTimeoutMs);
        if (lock !== undefined) {
          try {
            const again = await this.#storage.readCertificate(name);
            if (again !== undefined && !this.#due(again)) return this.#accept(again, false);
            this.#logger.info({ name, renewal: this.#installed.has(name) }, 'ordering a certificate');
            const certificate = await this.#issuer.issue(name);
            if (signal.aborted) return undefined;
            try {
              await this.#storage.writeCertificate(certificate);
            } catch (error) {
              // Served from memory anyway: ordering it again would spend the CA's rate limit for nothing.
              this.#logger.error({ name, err: (error as Error).message }, 'cannot store the new certificate; serving it from memory');
            }
            return this.#accept(certificate, true);
          } finally {
            await lock.release().catch(() => undefined);
          }
        }
        // Someone else holds the lock: wait for their certificate.
        if (performance.now() >= deadline) throw new Error(`another proxy held the order lock of ${name} past the order timeout`);
        await delay(this.#options.pollIntervalMs, undefined, { signal });
      }
    } catch (error) {
      if (signal.aborted) return undefined;
      const failures = (this.#failures.get(name)?.count ?? 0) + 1;
      const retryAt = this.#now() + retryDelay(failures, this.#options.retryMinMs, this.#options.retryMaxMs);
      this.#failures.set(name, { count: failures, retryAt });
      this.stats.failed += 1;
      this.#logger.warn({ name, err: (error as Error).message, failures, retryInMs: retryAt - this.#now() }, 'certificate order failed; serving the default certificate');
      this.emit('failed', { name, error: error as Error, retryAt });
      return undefined;
    }
  }

  #accept(certificate: StoredCertificate, ordered: boolean): Installed | undefined {
    if (this.#state !== 'running') return undefined;
    this.#failures.delete(certificate.name);
    if (ordered) this.stats.issued += 1;
    const installed = this.#install(certificate);
    this.#logger.info({ name: certificate.name, notAfter: new Date(certificate.notAfter).toISOString(), ordered }, 'certificate installed');
    this.emit('issued', { name: certificate.name, notAfter: certificate.notAfter });
    return installed;
  }

  #install(certificate: StoredCertificate): Installed {
    const installed = { certificate, context: createSecureContext({ cert: certificate.cert, key: certificate.key }) };
    this.#installed.set(certificate.name, installed);
    return installed;
  }

  #due(certificate: StoredCertificate): boolean {
    return this.#now() >= renewalTime(certificate.notBefore, certificate.notAfter, this.#options.renewAtFraction);
  }
}
