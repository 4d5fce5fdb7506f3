/**
 * Whether a failed dial or registration is worth retrying soon. One policy for the first start and for
 * every reconnect (issue 18): a deploy that starts many backends together meets the proxy's handshake
 * limit (429) or a proxy that is restarting (503, connection refused), and those heal by themselves;
 * a refused key or scope does not heal until a sysadmin acts, so it is reported at once.
 */
import { ControlError, isProxyError, type ProxyError } from '../shared/errors.js';
import { UpgradeRefusedError } from '../shared/control-client/upgrade-refused-error.js';

/** `transient`: retry with backoff. `refused`: the key, scope or configuration is refused. */
export type FailureKind = 'transient' | 'refused';

/** Codes that say the proxy could not be reached or did not answer in time. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set(['RP_ERR_DISCONNECTED', 'RP_ERR_TIMEOUT', 'RP_ERR_SHUTTING_DOWN']);

/**
 * Classifies a failure. An upgrade answered 429 (too many pending handshakes, no free session slot for
 * the key yet) or 5xx is transient; 401, 403 and other 4xx are refusals. Without a status, a
 * disconnection, a timeout or `RP_ERR_SHUTTING_DOWN` is transient; any other code (scope, gatekeeper,
 * TLS pin, key file, a limit answered to `register`) is a refusal.
 */
export function failureKind(error: unknown): FailureKind {
  if (error instanceof UpgradeRefusedError) return error.status === 429 || error.status >= 500 ? 'transient' : 'refused';
  return isProxyError(error) && TRANSIENT_CODES.has(error.code) ? 'transient' : 'refused';
}

/** The failure as a {@link ProxyError} (an unexpected error becomes `RP_ERR_INTERNAL`, keeping its cause). */
export function asProxyError(error: unknown): ProxyError {
  if (isProxyError(error)) return error;
  return new ControlError('RP_ERR_INTERNAL', `unexpected failure: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
