/**
 * The proxy answered the upgrade request with an HTTP status instead of switching protocols. The status
 * is kept beside the code because the same code can mean different things: a 429 at the upgrade (too
 * many pending handshakes, no free session slot) is worth retrying, an `RP_ERR_LIMIT_EXCEEDED` answer to
 * a `register` (too many rules) is not.
 */
import { ControlError, type ErrorCode, type ProxyErrorOptions } from '../errors.js';

/** An upgrade refused with an HTTP status. */
export class UpgradeRefusedError extends ControlError {
  /** The HTTP status of the refusal (401, 403, 429, 503, ...). */
  readonly status: number;

  constructor(code: ErrorCode, status: number, message: string, options?: ProxyErrorOptions) {
    super(code, message, options);
    this.status = status;
  }
}
