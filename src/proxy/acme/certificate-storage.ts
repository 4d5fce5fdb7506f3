/**
 * Where certificates, the ACME account and pending HTTP-01 answers are kept: an interface with a file
 * backend (one proxy) and a Redis backend (a fleet). In a fleet one proxy obtains a certificate and every
 * proxy serves it: a proxy first takes the name's lock (so they do not all ask the CA), and the challenge
 * answers are shared because the CA may dial any proxy behind the name.
 */

/** A certificate with its private key, as PEM, and its validity (ms since the epoch). */
export interface StoredCertificate {
  /** The certificate name (the one DNS name it was ordered for). */
  readonly name: string;
  /** Leaf certificate followed by its chain, PEM. */
  readonly cert: string;
  /** The certificate's private key, PEM (PKCS#8). Never logged. */
  readonly key: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** The ACME account of one directory: its key (PEM, never logged) and URL once registered. */
export interface StoredAccount {
  readonly directoryUrl: string;
  readonly key: string;
  readonly url?: string | undefined;
}

/** A held lock; `release()` is idempotent and releases only if the lock is still this holder's. */
export interface StorageLock {
  release(): Promise<void>;
}

/** The storage backend of the certificate manager. Every method validates what it reads. */
export interface CertificateStorage {
  /** The account registered with `directoryUrl`, if any. */
  readAccount(directoryUrl: string): Promise<StoredAccount | undefined>;
  writeAccount(account: StoredAccount): Promise<void>;
  /** The certificate kept for `name`, if any (a corrupt entry reads as absent and is logged by the caller). */
  readCertificate(name: string): Promise<StoredCertificate | undefined>;
  writeCertificate(certificate: StoredCertificate): Promise<void>;
  /** Names of every kept certificate. */
  listCertificates(): Promise<string[]>;
  /**
   * Takes the lock of `name` for at most `ttlMs` (a crashed holder cannot block the others for longer),
   * or resolves undefined when another holder has it.
   */
  lock(name: string, ttlMs: number): Promise<StorageLock | undefined>;
  /** Publishes the answer to an HTTP-01 challenge for `ttlMs` (other proxies of a fleet may be asked). */
  writeChallenge(token: string, keyAuthorization: string, ttlMs: number): Promise<void>;
  readChallenge(token: string): Promise<string | undefined>;
  removeChallenge(token: string): Promise<void>;
  /** Releases what the backend opened (connections); idempotent. */
  close(): Promise<void>;
}
