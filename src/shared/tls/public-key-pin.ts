/**
 * The pin agents use to verify the proxy: base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo
 * (DER), the same value HPKP and `curl --pinnedpubkey sha256//...` use. Pinning the key rather than the
 * certificate survives renewals that keep the key.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { TlsError } from '../errors.js';

/** Computes the SHA-256 SPKI pin of a PEM certificate. */
export function publicKeyPin(certPem: string | Buffer): string {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch (error) {
    throw new TlsError('not a valid PEM certificate', { cause: error });
  }
  const spki = certificate.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** Computes the pin of a peer certificate as `tls.TLSSocket.getPeerCertificate()` returns it. */
export function peerCertificatePin(peer: PeerCertificate): string | undefined {
  if (peer.raw === undefined || peer.raw.length === 0) return undefined;
  return publicKeyPin(new X509Certificate(peer.raw).toString());
}
