/**
 * Validation of a certificate read back from storage (a file someone may have edited, a Redis value any
 * fleet member wrote): the PEMs must parse, the key must match the certificate, and the certificate must
 * be for the name it is kept under. Anything else reads as absent, so a corrupt entry is re-ordered
 * rather than served.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { StoredCertificate } from './certificate-storage.js';

/** Largest accepted PEM (chain or key), in characters. */
const MAX_PEM_LENGTH = 64 * 1024;

function pemString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_PEM_LENGTH && value.includes('-----BEGIN ');
}

/** The validity of a PEM certificate (its first one: the leaf), in ms since the epoch. */
export function certificateValidity(pem: string): { notBefore: number; notAfter: number; serialNumber: string } {
  const x509 = new X509Certificate(pem);
  return { notBefore: Date.parse(x509.validFrom), notAfter: Date.parse(x509.validTo), serialNumber: x509.serialNumber };
}

/**
 * Builds a {@link StoredCertificate} from parsed JSON, or returns undefined when it is not a usable
 * certificate for `name`.
 */
export function parseStoredCertificate(value: unknown, name: string): StoredCertificate | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (record.name !== name || !pemString(record.cert) || !pemString(record.key)) return undefined;
  try {
    const x509 = new X509Certificate(record.cert);
    if (x509.checkHost(name) === undefined) return undefined;
    if (!x509.checkPrivateKey(createPrivateKey(record.key))) return undefined;
    const notBefore = Date.parse(x509.validFrom);
    const notAfter = Date.parse(x509.validTo);
    if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter) || notAfter <= notBefore) return undefined;
    return Object.freeze({ name, cert: record.cert, key: record.key, notBefore, notAfter });
  } catch {
    return undefined;
  }
}

/** The JSON form of a certificate in storage. */
export function serializeCertificate(certificate: StoredCertificate): string {
  const { name, cert, key, notBefore, notAfter } = certificate;
  return JSON.stringify({ name, cert, key, notBefore: new Date(notBefore).toISOString(), notAfter: new Date(notAfter).toISOString() });
}
