/**
 * Ed25519 JWK types and the runtime guards that every key read from a file, a frame or an option passes
 * through. A type annotation is not validation: keys come from disk and from the network.
 */
import { InvalidKeyError } from '../errors.js';

/** An Ed25519 public key as a JWK (RFC 8037). Never contains `d`. */
export interface Ed25519PublicJwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  /** Public key, base64url of 32 bytes. */
  readonly x: string;
  /** Optional key id (the agent id by convention). */
  readonly kid?: string;
  /** Optional algorithm, `EdDSA` when present. */
  readonly alg?: 'EdDSA';
  /** Optional use, `sig` when present. */
  readonly use?: 'sig';
}

/** An Ed25519 private key as a JWK: the public members plus `d`. */
export interface Ed25519PrivateJwk extends Ed25519PublicJwk {
  /** Private key, base64url of 32 bytes. */
  readonly d: string;
}

/** base64url without padding of exactly 32 bytes is 43 characters, the last one carrying 4 bits. */
const BASE64URL_32_BYTES = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function publicMembers(value: unknown, what: string): { kty: 'OKP'; crv: 'Ed25519'; x: string; kid?: string; alg?: 'EdDSA'; use?: 'sig' } {
  if (!isRecord(value)) throw new InvalidKeyError(`${what}: expected a JWK object`);
  if (value.kty !== 'OKP') throw new InvalidKeyError(`${what}: kty must be "OKP" (Ed25519), got ${JSON.stringify(String(value.kty)).slice(0, 40)}`);
  if (value.crv !== 'Ed25519') throw new InvalidKeyError(`${what}: crv must be "Ed25519", got ${JSON.stringify(String(value.crv)).slice(0, 40)}`);
  if (typeof value.x !== 'string' || !BASE64URL_32_BYTES.test(value.x)) {
    throw new InvalidKeyError(`${what}: x must be the base64url encoding of 32 bytes`);
  }
  const jwk: { kty: 'OKP'; crv: 'Ed25519'; x: string; kid?: string; alg?: 'EdDSA'; use?: 'sig' } = { kty: 'OKP', crv: 'Ed25519', x: value.x };
  if (value.kid !== undefined) {
    if (typeof value.kid !== 'string' || value.kid.length === 0 || value.kid.length > 256) {
      throw new InvalidKeyError(`${what}: kid must be a string of 1 to 256 characters`);
    }
    jwk.kid = value.kid;
  }
  if (value.alg !== undefined) {
    if (value.alg !== 'EdDSA') throw new InvalidKeyError(`${what}: alg must be "EdDSA" when present`);
    jwk.alg = 'EdDSA';
  }
  if (value.use !== undefined) {
    if (value.use !== 'sig') throw new InvalidKeyError(`${what}: use must be "sig" when present`);
    jwk.use = 'sig';
  }
  return jwk;
}

/**
 * Validates an Ed25519 public JWK and returns a frozen copy holding only the known members.
 *
 * @throws {InvalidKeyError} (`RP_ERR_INVALID_KEY`) when it is not one, or when it contains `d` (a private
 * key offered where a public one belongs is refused rather than silently stripped, so the mistake shows).
 */
export function parsePublicJwk(value: unknown): Ed25519PublicJwk {
  if (isRecord(value) && value.d !== undefined) {
    throw new InvalidKeyError('public key: the JWK contains "d" (private key material); give the .pub.json file, not the .key.json file');
  }
  return Object.freeze(publicMembers(value, 'public key'));
}

/**
 * Validates an Ed25519 private JWK and returns a frozen copy holding only the known members.
 *
 * @throws {InvalidKeyError} (`RP_ERR_INVALID_KEY`) when it is not one.
 */
export function parsePrivateJwk(value: unknown): Ed25519PrivateJwk {
  const jwk = publicMembers(value, 'private key');
  const d = (value as Record<string, unknown>).d;
  if (typeof d !== 'string' || !BASE64URL_32_BYTES.test(d)) {
    throw new InvalidKeyError('private key: d must be the base64url encoding of 32 bytes');
  }
  return Object.freeze({ ...jwk, d });
}

/** The public half of a private JWK (drops `d`). */
export function toPublicJwk(privateJwk: Ed25519PrivateJwk): Ed25519PublicJwk {
  const { d: _d, ...rest } = privateJwk;
  return parsePublicJwk(rest);
}
