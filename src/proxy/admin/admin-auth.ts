/**
 * Authentication of the admin listener when it is not loopback-only: `Authorization: Bearer <JWT>`
 * signed by a trusted key with role `admin`, verified by the control plane's {@link TokenVerifier}
 * (EdDSA, `aud`, `exp`, lifetime at most 120 s, revocation by key id).
 *
 * Two deliberate differences from the control plane:
 * - The audience is the admin one (`inteli-proxy-admin` by default), so a token seen on this plain-HTTP
 *   listener can never open a control session, and a control token cannot be used here.
 * - A token may be presented again until it expires (no replay cache): a browser tab polling the status
 *   API, or Prometheus reading a `credentials_file` that a cron job refreshes every minute, could not sign
 *   a token per request. Tokens live at most 120 s, so a leaked one is useful for at most that long.
 *
 * It fails closed: no trust store, an unknown or agent key, or any verification error is a refusal.
 */
import type { IncomingMessage } from 'node:http';
import type { ReplayCache, ReplayVerdict } from '../../shared/trust/replay-cache.js';
import type { TrustStore } from '../../shared/trust/trust-store.js';
import { TokenRejectedError, TokenVerifier, extractBearer } from '../control-plane/token-verifier.js';
import type { AdminAuthFailure } from './proxy-metrics.js';

/** Lets every token through the replay check: admin tokens are reusable within their lifetime. */
const REUSABLE_TOKENS: ReplayCache = Object.freeze({
  claim: (): Promise<ReplayVerdict> => Promise.resolve('fresh'),
});

/** Outcome of {@link AdminAuth.check}. */
export type AdminAuthResult =
  | { readonly ok: true; readonly adminId: string | undefined }
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: AdminAuthFailure; readonly message: string };

/** Checks admin requests. */
export class AdminAuth {
  readonly #required: boolean;
  readonly #audience: string;
  readonly #trustStore: () => TrustStore | undefined;
  #verifier: TokenVerifier | undefined;
  #verifierStore: TrustStore | undefined;

  /**
   * @param required whether requests need a token at all (false: every request passes).
   * @param trustStore the proxy's trust store, looked up per request (it is opened at start).
   */
  constructor(required: boolean, audience: string, trustStore: () => TrustStore | undefined) {
    this.#required = required;
    this.#audience = audience;
    this.#trustStore = trustStore;
  }

  /** Whether requests need a token. */
  get required(): boolean {
    return this.#required;
  }

  /**
   * Verifies the request's bearer token when auth is required (`required`: this listener's setting by
   * default; the listener forces it for forwarded requests). Never throws.
   */
  async check(req: IncomingMessage, required = this.#required): Promise<AdminAuthResult> {
    if (!required) return { ok: true, adminId: undefined };
    const token = extractBearer(req.headers.authorization);
    if (token === undefined) return { ok: false, status: 401, reason: 'missing', message: 'an admin bearer token is required' };
    const verifier = this.#verifierFor(this.#trustStore());
    if (verifier === undefined) {
      return { ok: false, status: 401, reason: 'no_trust_store', message: 'no trust store: admin tokens cannot be verified' };
    }
    try {
      const identity = await verifier.verify(token);
      if (identity.role !== 'admin') return { ok: false, status: 403, reason: 'forbidden', message: 'the key is not an admin key' };
      return { ok: true, adminId: identity.id };
    } catch (error) {
      const detail = error instanceof TokenRejectedError ? error.reason : 'invalid';
      return { ok: false, status: 401, reason: 'invalid', message: `the token was refused (${detail})` };
    }
  }

  #verifierFor(store: TrustStore | undefined): TokenVerifier | undefined {
    if (store === undefined) return undefined;
    if (this.#verifier === undefined || this.#verifierStore !== store) {
      this.#verifier = new TokenVerifier({ trustStore: store, audience: this.#audience, replayCache: REUSABLE_TOKENS });
      this.#verifierStore = store;
    }
    return this.#verifier;
  }
}
