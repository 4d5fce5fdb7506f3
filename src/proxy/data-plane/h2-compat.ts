/**
 * HTTP/2 requests and responses shaped like the HTTP/1.1 ones the proxy handler and the forwarder use,
 * as the `Http2ServerRequest`/`Http2ServerResponse` classes of the HTTPS listener. The translation
 * (RFC 9113 section 8) happens here, so the request path stays one code path for both protocols:
 *
 * - `rawHeaders` leaves out the pseudo-headers (validated by nghttp2: required ones present, none unknown,
 *   none after a regular field) and turns `:authority` into `Host`. A `Host` field that disagrees with
 *   `:authority` is kept as a second Host, which the handler answers with 400 (section 8.3.1: malformed).
 * - Split `cookie` fields are joined with `; ` (section 8.2.3), since an HTTP/1.1 backend expects one.
 * - `te: trailers` passes; every other connection-specific request field is refused by nghttp2 already.
 * - A request body without `content-length` (HTTP/2 frames it, DATA until END_STREAM) is announced as
 *   `transfer-encoding: chunked`, the HTTP/1.1 way, so that the body is streamed to the backend.
 * - `writeHead` drops the status message (HTTP/2 has none; Node would warn) and every connection-specific
 *   response field (`Connection`, `Keep-Alive`, `Transfer-Encoding`, `Upgrade`, `Proxy-Connection`,
 *   `HTTP2-Settings`): a backend sending one must not make Node throw ERR_HTTP2_INVALID_CONNECTION_HEADERS.
 *   An answer the proxy marks `Connection: close` (a refused request, a stopping proxy) becomes a GOAWAY
 *   on the session instead: the same "no more requests on this connection" in HTTP/2 terms.
 * - `writableFinished` is false for a stream that was reset: Node reports a reset stream as finished, and
 *   the forwarder would then take a client's abort for a completed response and never abort upstream.
 */
import { Http2ServerRequest, Http2ServerResponse, type OutgoingHttpHeaders, constants } from 'node:http2';

/** Response fields HTTP/2 forbids (RFC 9113 section 8.2.2), lower case. */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

const kRaw = Symbol('translatedRawHeaders');

/** An HTTP/2 request whose `rawHeaders` read like an HTTP/1.1 request's. */
export class ProxyH2Request extends Http2ServerRequest {
  declare [kRaw]: string[] | undefined;
}

/** The HTTP/1.1-style header list of an HTTP/2 request (computed once per request). */
export function translateRawHeaders(raw: readonly string[], hasBody: boolean): string[] {
  const headers: string[] = [];
  let authority: string | undefined;
  let cookie: string | undefined;
  let contentLength = false;
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index] as string;
    const value = raw[index + 1] as string;
    if (name.charCodeAt(0) === 0x3a) {
      if (name === ':authority') authority = value;
      continue;
    }
    if (name === 'cookie') {
      cookie = cookie === undefined ? value : `${cookie}; ${value}`;
      continue;
    }
    if (name === 'host' && authority !== undefined && value.toLowerCase() === authority.toLowerCase()) continue;
    if (name === 'content-length') contentLength = true;
    headers.push(name, value);
  }
  // Host first, as an HTTP/1.1 client sends it; nghttp2 delivers pseudo-headers before regular fields.
  if (authority !== undefined) headers.unshift('host', authority);
  if (cookie !== undefined) headers.push('cookie', cookie);
  if (hasBody && !contentLength) headers.push('transfer-encoding', 'chunked');
  return headers;
}

const baseRawHeaders = Object.getOwnPropertyDescriptor(Http2ServerRequest.prototype, 'rawHeaders')?.get;
Object.defineProperty(ProxyH2Request.prototype, 'rawHeaders', {
  configurable: true,
  enumerable: false,
  get(this: ProxyH2Request): string[] {
    // A stream that did not end with its headers carries a body (DATA frames until END_STREAM).
    this[kRaw] ??= translateRawHeaders((baseRawHeaders?.call(this) as string[] | undefined) ?? [], !this.stream.endAfterHeaders);
    return this[kRaw];
  },
});

function filterList(list: readonly unknown[]): { headers: unknown[]; close: boolean } {
  const headers: unknown[] = [];
  let close = false;
  for (let index = 0; index + 1 < list.length; index += 2) {
    const name = String(list[index]).toLowerCase();
    if (CONNECTION_SPECIFIC.has(name)) {
      if (name === 'connection' && /\bclose\b/i.test(String(list[index + 1]))) close = true;
      continue;
    }
    headers.push(name, list[index + 1]);
  }
  return { headers, close };
}

function filterObject(object: OutgoingHttpHeaders): { headers: OutgoingHttpHeaders; close: boolean } {
  const headers: OutgoingHttpHeaders = {};
  let close = false;
  for (const [name, value] of Object.entries(object)) {
    const lower = name.toLowerCase();
    if (CONNECTION_SPECIFIC.has(lower)) {
      if (lower === 'connection' && /\bclose\b/i.test(String(value))) close = true;
      continue;
    }
    headers[lower] = value;
  }
  return { headers, close };
}

/** An HTTP/2 response that takes what the HTTP/1.1 code path writes. */
export class ProxyH2Response extends Http2ServerResponse {
  /** Accepted and ignored: an HTTP/2 connection is closed with GOAWAY (see `writeHead`). */
  shouldKeepAlive = true;

  override writeHead(statusCode: number, headers?: OutgoingHttpHeaders | readonly unknown[]): this;
  override writeHead(statusCode: number, statusMessage: string, headers?: OutgoingHttpHeaders | readonly unknown[]): this;
  override writeHead(statusCode: number, messageOrHeaders?: string | OutgoingHttpHeaders | readonly unknown[], maybeHeaders?: OutgoingHttpHeaders | readonly unknown[]): this {
    const given = typeof messageOrHeaders === 'string' ? maybeHeaders : messageOrHeaders;
    if (given === undefined) return super.writeHead(statusCode);
    const { headers, close } = Array.isArray(given) ? filterList(given) : filterObject(given as OutgoingHttpHeaders);
    if (close || !this.shouldKeepAlive) {
      // GOAWAY: streams already open finish, no new one is accepted on this session.
      const session = this.stream.session;
      if (session !== undefined && !session.closed && !session.destroyed) session.close();
    }
    return super.writeHead(statusCode, headers as OutgoingHttpHeaders);
  }
}

const baseWritableFinished = Object.getOwnPropertyDescriptor(Http2ServerResponse.prototype, 'writableFinished')?.get;
Object.defineProperty(ProxyH2Response.prototype, 'writableFinished', {
  configurable: true,
  enumerable: false,
  get(this: ProxyH2Response): boolean {
    const rstCode = this.stream.rstCode;
    return (baseWritableFinished?.call(this) as boolean | undefined) === true && (rstCode === undefined || rstCode === constants.NGHTTP2_NO_ERROR);
  },
});
