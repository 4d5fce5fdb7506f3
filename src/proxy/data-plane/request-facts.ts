/**
 * What a selection policy may know about the request it picks an upstream for: method, path, host,
 * headers and client address. One object per listener handler is reused for every request (the pick is
 * synchronous), so passing the facts costs no allocation; a policy that keeps something must copy it.
 */

/** The request's facts, valid only during the `select` call they are passed to. */
export interface RequestFacts {
  /** `GET`, `POST`, ... */
  readonly method: string;
  /** The normalised request target: path and query. */
  readonly path: string;
  /** The `Host` header as sent (with port), if any. */
  readonly host: string | undefined;
  /** The client's IP address as the proxy's socket sees it (IPv4 without the `::ffff:` prefix). */
  readonly clientAddress: string | undefined;
  /** The request headers as received, `[name, value, name, value, ...]`. */
  readonly rawHeaders: readonly string[];
  /** The first value of a header (`name` in lower case), or undefined. A linear scan: call it once. */
  header(name: string): string | undefined;
}

/** The reusable {@link RequestFacts} of one handler. */
export class MutableRequestFacts implements RequestFacts {
  method = 'GET';
  path = '/';
  host: string | undefined;
  clientAddress: string | undefined;
  rawHeaders: readonly string[] = [];
  /** Whether the client connection is TLS (for the affinity cookie's `Secure` attribute). */
  encrypted = false;
  /**
   * Set by cookie affinity when the pick must be remembered: the `Set-Cookie` value to add to the
   * response. Reset for every request.
   */
  setCookie: string | undefined;

  /** Fills the facts for a new request. */
  reset(method: string | undefined, path: string, host: string | undefined, peer: string | undefined, rawHeaders: readonly string[], encrypted: boolean): this {
    this.method = method ?? 'GET';
    this.path = path;
    this.host = host;
    this.clientAddress = peer !== undefined && peer.startsWith('::ffff:') && peer.includes('.') ? peer.slice(7) : peer;
    this.rawHeaders = rawHeaders;
    this.encrypted = encrypted;
    this.setCookie = undefined;
    return this;
  }

  header(name: string): string | undefined {
    const raw = this.rawHeaders;
    for (let index = 0; index < raw.length; index += 2) {
      const field = raw[index] as string;
      if (field.length === name.length && field.toLowerCase() === name) return raw[index + 1];
    }
    return undefined;
  }
}
