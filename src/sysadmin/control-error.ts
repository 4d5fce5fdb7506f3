/**
 * Every failure of a {@link ProxySysAdmin} call reaches the caller as a {@link ControlError}, so one
 * `instanceof` and a branch on `code` cover the proxy's refusals (`RP_ERR_UNKNOWN_ID`,
 * `RP_ERR_FORBIDDEN`...), transport failures (`RP_ERR_DISCONNECTED`, `RP_ERR_TIMEOUT`, `RP_ERR_TLS`) and
 * local input checks (`RP_ERR_INVALID_KEY`, `RP_ERR_INVALID_ID`). The original error stays as `cause`.
 */
import { ControlError, isProxyError } from '../shared/errors.js';

/** Returns `error` as a {@link ControlError} with the same code (unknown errors become `RP_ERR_INTERNAL`). */
export function asControlError(error: unknown): ControlError {
  if (error instanceof ControlError) return error;
  if (isProxyError(error)) return new ControlError(error.code, error.message, { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new ControlError('RP_ERR_INTERNAL', `unexpected failure in the sysadmin client: ${message}`, { cause: error });
}
