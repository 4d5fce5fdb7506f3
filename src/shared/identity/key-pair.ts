/**
 * Ed25519 key pairs as JWK, made with `jose` (WebCrypto). The private JWK is what an agent keeps in its
 * `<id>.key.json`; the public JWK is what the sysadmin uploads into the trust store.
 */
import { createPublicKey } from 'node:crypto';
import { exportJWK, generateKeyPair as joseGenerateKeyPair } from 'jose';
import { InvalidKeyError } from '../errors.js';
import { parsePrivateJwk, parsePublicJwk, type Ed25519PrivateJwk, type Ed25519PublicJwk } from './jwk.js';

export type { Ed25519PrivateJwk, Ed25519PublicJwk } from './jwk.js';

/** A freshly generated key pair. */
export interface KeyPair {
  readonly privateJwk: Ed25519PrivateJwk;
  readonly publicJwk: Ed25519PublicJwk;
}

/**
 * Generates an Ed25519 key pair. `kid` (the agent id by convention) is written into both JWKs when given.
 */
export async function generateKeyPair(kid?: string): Promise<{ privateJwk: Ed25519PrivateJwk; publicJwk: Ed25519PublicJwk }> {
  const { privateKey } = await joseGenerateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const exported = await exportJWK(privateKey);
  const extra = kid === undefined ? {} : { kid };
  const privateJwk = parsePrivateJwk({ kty: exported.kty, crv: exported.crv, x: exported.x, d: exported.d, alg: 'EdDSA', ...extra });
  const publicJwk = parsePublicJwk({ kty: exported.kty, crv: exported.crv, x: exported.x, alg: 'EdDSA', ...extra });
  return { privateJwk, publicJwk };
}

/**
 * Reads an Ed25519 public key from an SPKI PEM (`-----BEGIN PUBLIC KEY-----`), for sysadmins who made
 * their keys with openssl (`openssl genpkey -algorithm ed25519`).
 *
 * @throws {InvalidKeyError} when the PEM is not an Ed25519 public key.
 */
export async function publicKeyFromPem(pem: string): Promise<Ed25519PublicJwk> {
  if (typeof pem !== 'string' || !pem.includes('-----BEGIN PUBLIC KEY-----')) {
    throw new InvalidKeyError('public key: expected an SPKI PEM ("-----BEGIN PUBLIC KEY-----")');
  }
  let jwk: Record<string, unknown>;
  try {
    const key = createPublicKey({ key: pem, format: 'pem' });
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new InvalidKeyError(`public key: expected an Ed25519 key, got ${String(key.asymmetricKeyType)}`);
    }
    jwk = key.export({ format: 'jwk' }) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof InvalidKeyError) throw error;
    throw new InvalidKeyError('public key: the PEM could not be parsed', { cause: error });
  }
  return parsePublicJwk({ kty: jwk.kty, crv: jwk.crv, x: jwk.x });
}
