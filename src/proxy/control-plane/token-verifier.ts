/**
 * Verifies the bearer token of a control-plane upgrade request (before `handleUpgrade`).
 *
 * The key is looked up by the token's `sub` (which must equal the header `kid` when present) in the trust
 * store, so revocation is immediate: a removed key verifies nothing. jose checks the EdDSA signature,
 * `aud`, `exp` and the age of `iat`; this class adds a hard bound on the lifetime (`exp - iat`), the `jti`
 * format and the replay check, which runs only after the signature is good so unsigned junk cannot fill
 * the replay cache. Errors carry a `reason` for metrics and never contain the token.
 */
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, errors as joseErrors, type CryptoKey, type JWTPayload } from 'jose';
import { InvalidOptionError, UnauthorizedError } from '../../shared/errors.js';
import { isValidAgentId } from '../../shared/identity/agent-id.js';
import { MAX_TOKEN_TTL_SECONDS } from '../../shared/identity/sign-token.js';
import type { KeyRole, KeyScope } from '../../shared/protocol.js';
import { MemoryReplayCache } from '../../shared/trust/memory-replay-cache.js';
import type { ReplayCache, ReplayVerdict } from '../../shared/trust/replay-cache.js';
import type { TrustStore } from '../../shared/trust/trust-store.js';
import type { TrustedKey } from '../../shared/trust/trusted-key.js';

/** Default `maxTokenAgeSeconds`: a token older than this (by `iat`) is refused. */
export const DEFAULT_MAX_TOKEN_AGE_SECONDS = 120;
/** Default `clockToleranceSeconds` for `exp`/`iat` between agent and proxy clocks. */
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 5;
/** Longest token accepted, in characters; an EdDSA JWT with these claims is ~300. */
export const MAX_TOKEN_LENGTH = 4096;
/** Longest accepted `jti`. */
export const MAX_JTI_LENGTH = 128;

/** Why a token was refused (a metric label). */
export type UnauthorizedReason =
  | 'missing'
  | 'malformed'
  | 'algorithm'
  | 'expired'
  | 'not_yet_valid'
  | 'lifetime'
  | 'audience'
  | 'kid_mismatch'
  | 'unknown_key'
  | 'signature'
  | 'replay'
  | 'replay_cache_full'
  | 'replay_cache_unavailable';

/** A token was refused. `code` is `RP_ERR_UNAUTHORIZED` (401); `reason` says why. */
export class TokenRejectedError extends UnauthorizedError {
  /** Why the token was refused. */
  readonly reason: UnauthorizedReason;
  constructor(reason: UnauthorizedReason, message: string, options?: { cause?: unknown }) {
    super(`unauthorized (${reason}): ${message}`, options);
    this.reason = reason;
  }
}

/** Who a verified token belongs to. Frozen. */
export interface VerifiedIdentity {
  readonly id: string;
  readonly role: KeyRole;
  readonly scope: Readonly<KeyScope>;
  /** RFC 7638 thumbprint of the key that signed the token. */
  readonly fingerprint: string;
}

/** Options of {@link TokenVerifier}. */
export interface TokenVerifierOptions {
  /** Where keys are looked up (live: removals take effect on the next verify). */
  trustStore: TrustStore;
  /** The `aud` every token must carry, e.g. `inteli-proxy`. */
  audience: string;
  /** Oldest `iat` accepted, in seconds, 1 to 120. Default 120. */
  maxTokenAgeSeconds?: number;
  /** Clock skew allowed on `exp` and `iat`, in seconds, 0 to 60. Default 5. */
  clockToleranceSeconds?: number;
  /** Replay cache; default a new {@link MemoryReplayCache} with its default bound, on `now`. Share one per proxy. */
  replayCache?: ReplayCache;
  /** Clock in milliseconds since the epoch, for tests. Default `Date.now`. */
  now?: () => number;
}

function integerOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < min || resolved > max) {
    throw new InvalidOptionError(`${name}: expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return resolved;
}

function reasonOf(error: unknown): [UnauthorizedReason, string] {
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return ['signature', 'signature verification failed'];
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return ['algorithm', 'only EdDSA tokens are accepted'];
  if (error instanceof joseErrors.JWTExpired) return ['expired', error.claim === 'iat' ? 'token is too old' : 'token has expired'];
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return ['audience', 'wrong audience'];
    if (error.claim === 'iat' && error.reason === 'check_failed') return ['not_yet_valid', 'token is issued in the future'];
    if (error.claim === 'nbf') return ['not_yet_valid', 'token is not valid yet'];
    return ['malformed', `claim "${error.claim}" is ${error.reason === 'missing' ? 'missing' : 'invalid'}`];
  }
  return ['malformed', 'token is not a valid JWT'];
}

/** Verifies control-plane bearer tokens against a trust store. */
export class TokenVerifier {
  readonly #trustStore: TrustStore;
  readonly #audience: string;
  readonly #maxTokenAgeSeconds: number;
  readonly #clockToleranceSeconds: number;
  readonly #replayCache: ReplayCache;
  readonly #now: () => number;
  // Imported keys, per trusted-key object: a replaced or removed key is a new object, so nothing stale is
  // ever used, and the WeakMap lets removed keys be collected.
  readonly #imported = new WeakMap<TrustedKey, Promise<CryptoKey | Uint8Array>>();

  constructor(options: TokenVerifierOptions) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('TokenVerifier: options are required');
    if (typeof options.trustStore !== 'object' || options.trustStore === null || typeof options.trustStore.get !== 'function') {
      throw new InvalidOptionError('trustStore: expected a TrustStore');
    }
    if (typeof options.audience !== 'string' || options.audience.length === 0 || options.audience.length > 256) {
      throw new InvalidOptionError('audience: expected a string of 1 to 256 characters');
    }
    this.#trustStore = options.trustStore;
    this.#audience = options.audience;
    this.#maxTokenAgeSeconds = integerOption('maxTokenAgeSeconds', options.maxTokenAgeSeconds, DEFAULT_MAX_TOKEN_AGE_SECONDS, 1, MAX_TOKEN_TTL_SECONDS);
    this.#clockToleranceSeconds = integerOption('clockToleranceSeconds', options.clockToleranceSeconds, DEFAULT_CLOCK_TOLERANCE_SECONDS, 0, 60);
    if (options.replayCache !== undefined && typeof options.replayCache?.claim !== 'function') {
      throw new InvalidOptionError('replayCache: expected a ReplayCache');
    }
    this.#now = options.now ?? Date.now;
    this.#replayCache = options.replayCache ?? new MemoryReplayCache({ now: this.#now });
  }

  /**
   * Verifies `token` and returns the identity of its signer.
   *
   * @throws {TokenRejectedError} (`RP_ERR_UNAUTHORIZED`, with `reason`) for any invalid token.
   */
  async verify(token: string): Promise<VerifiedIdentity> {
    if (typeof token !== 'string' || token.length === 0) throw new TokenRejectedError('missing', 'no bearer token');
    if (token.length > MAX_TOKEN_LENGTH) throw new TokenRejectedError('malformed', `token longer than ${MAX_TOKEN_LENGTH} characters`);
    let kid: unknown;
    let sub: unknown;
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg !== 'EdDSA') throw new TokenRejectedError('algorithm', 'only EdDSA tokens are accepted');
      kid = header.kid;
      sub = decodeJwt(token).sub;
    } catch (error) {
      if (error instanceof TokenRejectedError) throw error;
      throw new TokenRejectedError('malformed', 'token is not a valid JWT');
    }
    if (!isValidAgentId(sub)) throw new TokenRejectedError('malformed', 'claim "sub" is missing or not a valid id');
    if (kid !== undefined && kid !== sub) throw new TokenRejectedError('kid_mismatch', 'header "kid" differs from claim "sub"');
    const trusted = this.#trustStore.get(sub);
    if (trusted === undefined) throw new TokenRejectedError('unknown_key', `no trusted key for id "${sub}"`);

    let payload: JWTPayload;
    const nowMs = this.#now();
    try {
      ({ payload } = await jwtVerify(token, await this.#keyOf(trusted), {
        algorithms: ['EdDSA'],
        audience: this.#audience,
        subject: sub,
        typ: 'JWT',
        maxTokenAge: this.#maxTokenAgeSeconds,
        clockTolerance: this.#clockToleranceSeconds,
        requiredClaims: ['sub', 'aud', 'iat', 'exp', 'jti'],
        currentDate: new Date(nowMs),
      }));
    } catch (error) {
      const [reason, message] = reasonOf(error);
      throw new TokenRejectedError(reason, message);
    }
    const { iat, exp, jti } = payload as { iat: number; exp: number; jti: unknown };
    if (exp - iat > MAX_TOKEN_TTL_SECONDS) {
      throw new TokenRejectedError('lifetime', `token lifetime (exp - iat) exceeds ${MAX_TOKEN_TTL_SECONDS} s`);
    }
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
      throw new TokenRejectedError('malformed', `claim "jti" must be a string of 1 to ${MAX_JTI_LENGTH} characters`);
    }
    // Remember the jti as long as jose would still accept the token (exp plus the tolerance).
    let verdict: ReplayVerdict;
    try {
      verdict = await this.#replayCache.claim(`${sub}\u0000${jti}`, (exp + this.#clockToleranceSeconds) * 1000);
    } catch (error) {
      // Failing closed: a token whose first use cannot be proven is refused.
      throw new TokenRejectedError('replay_cache_unavailable', 'the replay cache cannot be reached; retry later', { cause: error });
    }
    if (verdict === 'replay') throw new TokenRejectedError('replay', 'token was already used');
    if (verdict === 'full') throw new TokenRejectedError('replay_cache_full', 'too many live tokens; retry later');
    return Object.freeze({ id: trusted.id, role: trusted.role, scope: trusted.scope, fingerprint: trusted.fingerprint });
  }

  #keyOf(trusted: TrustedKey): Promise<CryptoKey | Uint8Array> {
    let key = this.#imported.get(trusted);
    if (key === undefined) {
      const { kty, crv, x } = trusted.publicKey;
      key = importJWK({ kty, crv, x }, 'EdDSA');
      this.#imported.set(trusted, key);
    }
    return key;
  }
}

/**
 * Returns the token of an `Authorization: Bearer <token>` header, or undefined when the header is absent,
 * of another scheme, or malformed.
 */
export function extractBearer(header: string | undefined): string | undefined {
  if (typeof header !== 'string' || header.length > MAX_TOKEN_LENGTH + 16) return undefined;
  const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header);
  return match === null ? undefined : match[1];
}
