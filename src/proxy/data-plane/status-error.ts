/**
 * The one place where a forwarding failure becomes an HTTP answer (Caddy's reverseproxy and reply-from
 * do the same): connect refused or reset -> 502 `RP_ERR_UPSTREAM_CONNECT`, no response headers in time
 * -> 504 `RP_ERR_UPSTREAM_TIMEOUT`, an invalid or truncated response -> 502 `RP_ERR_UPSTREAM_RESPONSE`,
 * the client went away -> 499 `RP_ERR_CLIENT_ABORTED` (logged at debug, never sent), a request the
 * forwarding library refuses to send (a malformed header) -> 400 `RP_ERR_BAD_REQUEST`.
 */
import { ProxyError, isProxyError } from '../../shared/errors.js';

/** Error codes of a failed connection attempt: nothing reached the upstream, so a retry is safe. */
const CONNECT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

const ABORT_CODES: ReadonlySet<string> = new Set(['UND_ERR_ABORTED', 'ABORT_ERR', 'ERR_STREAM_PREMATURE_CLOSE']);

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Maps a forwarding failure to a coded {@link ProxyError} with its HTTP status.
 *
 * @param error what the forwarding library or a socket reported.
 * @param requestSent whether any byte of the request reached a connection; a reset before that is a
 *   connect failure, after it an invalid response.
 */
export function statusError(error: unknown, requestSent: boolean): ProxyError {
  if (isProxyError(error)) return error;
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (code !== undefined && ABORT_CODES.has(code)) {
    return new ProxyError('RP_ERR_CLIENT_ABORTED', 'the client went away before the response was complete', { cause: error });
  }
  if (code === 'UND_ERR_INVALID_ARG' && !requestSent) {
    // The forwarding library refused the request before sending it: a header or target the client sent.
    return new ProxyError('RP_ERR_BAD_REQUEST', `the request cannot be forwarded: ${detail}`, { cause: error });
  }
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return new ProxyError('RP_ERR_UPSTREAM_TIMEOUT', `the upstream did not answer in time (${code})`, { cause: error });
  }
  if (code !== undefined && CONNECT_CODES.has(code) && (!requestSent || code === 'ECONNREFUSED' || code === 'ECONNRESET')) {
    return new ProxyError('RP_ERR_UPSTREAM_CONNECT', `could not connect to the upstream (${code}): ${detail}`, { cause: error });
  }
  return new ProxyError('RP_ERR_UPSTREAM_RESPONSE', `the upstream sent an invalid or truncated response${code === undefined ? '' : ` (${code})`}: ${detail}`, { cause: error });
}

/** Socket failures that, before any response byte, mean the connection died under the request. */
const RESET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/**
 * True when the upstream connection was reset or closed before any byte of the response: a kept-alive
 * connection that its peer closed (an idle timeout race, or a backend process that just died). RFC 9110
 * section 9.2.2 lets a proxy retry an idempotent request then; the caller checks the method.
 */
export function isResetBeforeResponse(error: unknown, responseStarted: boolean): boolean {
  if (responseStarted) return false;
  const code = errorCode(isProxyError(error) ? error.cause : error);
  return code !== undefined && RESET_CODES.has(code);
}

/** True for a connect failure that happened before any byte of the request was written: safe to retry. */
export function isConnectFailure(error: ProxyError, requestSent: boolean): boolean {
  return !requestSent && error.code === 'RP_ERR_UPSTREAM_CONNECT';
}
