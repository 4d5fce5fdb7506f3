/**
 * The bearer token an agent or admin presents on every control-plane dial: a short-lived EdDSA JWT with a
 * random `jti`. Unlike the original (which signed only the id, deterministically, making a permanent
 * bearer token), every token is fresh, expires within two minutes and is accepted once.
 */
import { randomBytes } from 'node:crypto';
import { importJWK, SignJWT, type CryptoKey } from 'jose';
import { InvalidKeyError, InvalidOptionError } from '../errors.js';
import { assertValidAgentId } from './agent-id.js';
import { parsePrivateJwk, type Ed25519PrivateJwk } from './jwk.js';

/** Default token lifetime, in seconds. */
export const DEFAULT_TOKEN_TTL_SECONDS = 60;
/** Longest lifetime the proxy accepts, in seconds (the verifier refuses `exp - iat` above it). */
export const MAX_TOKEN_TTL_SECONDS = 120;

/** Claims of {@link signToken}. */
export interface SignTokenOptions {
  /** The signer's id (`sub`, and `kid` in the header). */
  subject: string;
  /** The proxy's audience (`aud`), e.g. `inteli-proxy`. */
  audience: string;
  /** Lifetime in seconds, 1 to 120. Default 60. */
  ttlSeconds?: number;
  /** Clock in milliseconds since the epoch, for tests. Default `Date.now`. */
  now?: () => number;
}

/**
 * Signs a fresh control-plane token: header `{alg:'EdDSA', typ:'JWT', kid: subject}`, claims `sub`,
 * `aud`, `iat`, `exp = iat + ttlSeconds`, `jti` (128 random bits, base64url).
 *
 * @throws {InvalidIdError} when `subject` is not a valid id.
 * @throws {InvalidOptionError} when `audience` or `ttlSeconds` is out of range.
 * @throws {InvalidKeyError} when `privateJwk` is not an Ed25519 private JWK.
 */
export async function signToken(
  privateJwk: Ed25519PrivateJwk,
  { subject, audience, ttlSeconds = DEFAULT_TOKEN_TTL_SECONDS, now = Date.now }: SignTokenOptions,
): Promise<string> {
  assertValidAgentId(subject);
  if (typeof audience !== 'string' || audience.length === 0 || audience.length > 256) {
    throw new InvalidOptionError('audience: expected a string of 1 to 256 characters');
  }
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
    throw new InvalidOptionError(`ttlSeconds: expected an integer from 1 to ${MAX_TOKEN_TTL_SECONDS}, got ${String(ttlSeconds)}`);
  }
  const jwk = parsePrivateJwk(privateJwk);
  let key: CryptoKey | Uint8Array;
  try {
    key = await importJWK({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d }, 'EdDSA');
  } catch (error) {
    throw new InvalidKeyError('private key: could not be imported', { cause: error });
  }
  const iat = Math.floor(now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: subject })
    .setSubject(subject)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .setJti(randomBytes(16).toString('base64url'))
    .sign(key);
}
