/**
 * The `Host` check of the admin listener against DNS rebinding (issue 14). Without a token requirement
 * the listener trusts whoever reaches it on loopback, and a web page in a browser on the proxy's machine
 * reaches it too once its own name resolves to 127.0.0.1: the browser then sends the page's name as
 * `Host`. So a request that is not authenticated by a token must name the listener by a loopback name
 * or address (`localhost`, `127.0.0.1`, `[::1]`) or by one of `admin.allowedHosts`.
 */
import { isLoopbackHost } from './admin-options.js';

/** The host part of a `Host` header value (lower case, port, brackets and a trailing dot removed). */
export function hostName(header: string | undefined): string | undefined {
  if (typeof header !== 'string' || header.length === 0 || header.length > 300) return undefined;
  let host = header.trim().toLowerCase();
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close === -1) return undefined;
    host = host.slice(1, close);
  } else {
    const colon = host.indexOf(':');
    if (colon !== -1) host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host === '' ? undefined : host;
}

/** Decides whether a `Host` header may reach the unauthenticated admin endpoints. */
export class AdminHostCheck {
  readonly #allowed: ReadonlySet<string>;

  /** @param allowedHosts extra host names or addresses (`admin.allowedHosts`), already validated. */
  constructor(allowedHosts: readonly string[]) {
    this.#allowed = new Set(allowedHosts.map((host) => hostName(host) ?? host));
  }

  /** True when `header` names a loopback host or an allowed one. */
  allows(header: string | undefined): boolean {
    const host = hostName(header);
    if (host === undefined) return false;
    return isLoopbackHost(host) || this.#allowed.has(host);
  }
}
