/**
 * Options of the certificate manager (`acme` on `ProxyServer`), in three steps: `DEFAULT_*` constants,
 * validation that names the option, and a frozen result.
 */
import { InvalidOptionError } from '../../shared/errors.js';
import type { CertificateStorage } from './certificate-storage.js';

/** Default share of a certificate's lifetime after which it is renewed (day 60 of 90). */
export const DEFAULT_RENEW_AT_FRACTION = 2 / 3;
/** Default interval between renewal sweeps, in ms (one hour). */
export const DEFAULT_CHECK_INTERVAL_MS = 3_600_000;
/** Default first retry delay after a failed order, in ms (doubles per failure). */
export const DEFAULT_RETRY_MIN_MS = 60_000;
/** Default longest retry delay after failed orders, in ms (six hours). */
export const DEFAULT_RETRY_MAX_MS = 21_600_000;
/** Default most orders in progress at once (a bound on what handshakes for new names can start). */
export const DEFAULT_MAX_PENDING_ORDERS = 8;
/** Default time a TLS handshake for a name without a certificate waits for its order, in ms. */
export const DEFAULT_HANDSHAKE_WAIT_MS = 10_000;
/** Default timeout of one request to the ACME server, in ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Default bound on a whole order (also the lifetime of the per-name lock), in ms. */
export const DEFAULT_ORDER_TIMEOUT_MS = 180_000;
/** Default first interval of polling an order or authorization, in ms (the ACME library backs off). */
export const DEFAULT_POLL_INTERVAL_MS = 1_000;

/** What a caller may pass as `acme`. */
export interface AcmeOptions {
  /** The ACME directory URL (`https://acme-v02.api.letsencrypt.org/directory`). Required. */
  directoryUrl: string;
  /** Contact e-mail of the ACME account (expiry notices). Default none. */
  email?: string | undefined;
  /**
   * Agree to the CA's terms of service when creating the account (every public CA requires it; setting a
   * directory URL is taken as agreement, as Caddy does). Default true.
   */
  termsOfServiceAgreed?: boolean;
  /** PEM CA certificates trusted for the ACME server only (a private CA, pebble in tests). Default system CAs. */
  caCertificates?: string | Buffer | undefined;
  /** Where certificates and the account are kept. Default: files in `<certstore>/acme`. */
  storage?: CertificateStorage | undefined;
  /** Share of the lifetime after which a certificate is renewed, 0.1 to 0.95. Default 2/3. */
  renewAtFraction?: number;
  /** Interval between renewal sweeps in ms, 1000 to 86400000. Default 3600000. */
  checkIntervalMs?: number;
  /** First retry delay after a failed order in ms (doubles per failure), 10 to 86400000. Default 60000. */
  retryMinMs?: number;
  /** Longest retry delay in ms, at least `retryMinMs`. Default 21600000. */
  retryMaxMs?: number;
  /** Most orders in progress at once, 1 to 1000. Default 8. */
  maxPendingOrders?: number;
  /** How long a handshake for a name without a certificate waits for its order, in ms, 0 to 60000. Default 10000. */
  handshakeWaitMs?: number;
  /** Timeout of one request to the ACME server in ms, 100 to 600000. Default 30000. */
  requestTimeoutMs?: number;
  /** Bound on a whole order in ms (and the lifetime of its lock), 1000 to 3600000. Default 180000. */
  orderTimeoutMs?: number;
  /** First polling interval of an order in ms, 10 to 60000. Default 1000. */
  pollIntervalMs?: number;
}

/** The validated, frozen options. */
export interface ResolvedAcmeOptions {
  readonly directoryUrl: string;
  readonly email: string | undefined;
  readonly termsOfServiceAgreed: boolean;
  readonly caCertificates: string | Buffer | undefined;
  readonly storage: CertificateStorage | undefined;
  readonly renewAtFraction: number;
  readonly checkIntervalMs: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  readonly maxPendingOrders: number;
  readonly handshakeWaitMs: number;
  readonly requestTimeoutMs: number;
  readonly orderTimeoutMs: number;
  readonly pollIntervalMs: number;
}

const EMAIL = /^[^\s@<>(),;:"[\]]{1,64}@[A-Za-z0-9.-]{1,253}$/;

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`acme.${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function directoryUrl(value: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  // ACME runs over HTTPS only (RFC 8555 section 6.1).
  if (url?.protocol !== 'https:' || url.username !== '' || url.password !== '') {
    throw new InvalidOptionError(`acme.directoryUrl must be an https:// URL, got ${JSON.stringify(String(value).slice(0, 120))}`);
  }
  return url.href;
}

/** Applies defaults, validates and freezes. @throws {InvalidOptionError} naming the option. */
export function resolveAcmeOptions(options: AcmeOptions): ResolvedAcmeOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new InvalidOptionError('acme: expected an options object');
  const email = options.email;
  if (email !== undefined && (typeof email !== 'string' || !EMAIL.test(email))) {
    throw new InvalidOptionError(`acme.email must be an e-mail address, got ${JSON.stringify(String(email).slice(0, 80))}`);
  }
  const terms = options.termsOfServiceAgreed ?? true;
  if (typeof terms !== 'boolean') throw new InvalidOptionError('acme.termsOfServiceAgreed must be a boolean');
  const ca = options.caCertificates;
  if (ca !== undefined && !((typeof ca === 'string' || Buffer.isBuffer(ca)) && ca.length > 0)) {
    throw new InvalidOptionError('acme.caCertificates must be a non-empty PEM string or Buffer');
  }
  const storage = options.storage;
  if (storage !== undefined && (typeof storage !== 'object' || storage === null || typeof storage.readCertificate !== 'function' || typeof storage.lock !== 'function')) {
    throw new InvalidOptionError('acme.storage must be a CertificateStorage');
  }
  const fraction = options.renewAtFraction ?? DEFAULT_RENEW_AT_FRACTION;
  if (typeof fraction !== 'number' || !(fraction >= 0.1 && fraction <= 0.95)) {
    throw new InvalidOptionError(`acme.renewAtFraction must be a number from 0.1 to 0.95, got ${JSON.stringify(fraction)}`);
  }
  const retryMinMs = integer('retryMinMs', options.retryMinMs, DEFAULT_RETRY_MIN_MS, 10, 86_400_000);
  const retryMaxMs = integer('retryMaxMs', options.retryMaxMs, Math.max(DEFAULT_RETRY_MAX_MS, retryMinMs), retryMinMs, 604_800_000);
  return Object.freeze({
    directoryUrl: directoryUrl(options.directoryUrl),
    email,
    termsOfServiceAgreed: terms,
    caCertificates: ca,
    storage,
    renewAtFraction: fraction,
    checkIntervalMs: integer('checkIntervalMs', options.checkIntervalMs, DEFAULT_CHECK_INTERVAL_MS, 1000, 86_400_000),
    retryMinMs,
    retryMaxMs,
    maxPendingOrders: integer('maxPendingOrders', options.maxPendingOrders, DEFAULT_MAX_PENDING_ORDERS, 1, 1000),
    handshakeWaitMs: integer('handshakeWaitMs', options.handshakeWaitMs, DEFAULT_HANDSHAKE_WAIT_MS, 0, 60_000),
    requestTimeoutMs: integer('requestTimeoutMs', options.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS, 100, 600_000),
    orderTimeoutMs: integer('orderTimeoutMs', options.orderTimeoutMs, DEFAULT_ORDER_TIMEOUT_MS, 1000, 3_600_000),
    pollIntervalMs: integer('pollIntervalMs', options.pollIntervalMs, DEFAULT_POLL_INTERVAL_MS, 10, 60_000),
  });
}
