/**
 * A key's fingerprint: its RFC 7638 JWK thumbprint (SHA-256 over the canonical `{crv,kty,x}` JSON),
 * base64url. This is the "signed SHA-256 identity" of the design; it is independent of `kid`/`alg`.
 */
import { calculateJwkThumbprint } from 'jose';
import { parsePublicJwk, type Ed25519PublicJwk } from './jwk.js';

/** Computes the RFC 7638 SHA-256 thumbprint (base64url, 43 characters) of an Ed25519 public JWK. */
export async function fingerprint(jwk: Ed25519PublicJwk): Promise<string> {
  const { kty, crv, x } = parsePublicJwk(jwk);
  return calculateJwkThumbprint({ kty, crv, x }, 'sha256');
}
