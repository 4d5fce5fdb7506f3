/**
 * Session affinity of one route, built with the routing table (plain data in, a lookup structure out).
 *
 * - `cookie`: the first answer carries `Set-Cookie: <name>=<token>`, where the token is an HMAC-SHA256 of
 *   the route and the upstream's identity (`agentId|origin`) under the proxy's secret, truncated to 128
 *   bits: opaque (it names no host or port) and unforgeable without the secret. A request carrying a
 *   token goes to its upstream while that one is available; otherwise (draining, ejected, unhealthy,
 *   gone, or a token from another proxy) it gets a fresh pick from the route's policy and a new cookie.
 *   The cookie is per route (its name holds a hash of the rule, its `Path` is the rule's path), so two
 *   sticky routes on one site do not overwrite each other. Tokens are computed once per upstream and
 *   route, so a request costs one header scan and one map lookup.
 * - `hash`: rendezvous hashing of the client address, or of a named header (falling back to the address
 *   when the request lacks it), over the route's available upstreams; see `rendezvous-hash.ts`.
 *
 * In both modes a target that stops being available hands its clients to others, while the requests it
 * is serving finish where they are.
 */
import { createHmac } from 'node:crypto';
import type { AffinityMode } from '../registry/backend.js';
import type { MutableRequestFacts } from './request-facts.js';
import { hashString, mix32, rendezvousPick } from './rendezvous-hash.js';
import type { ProxySelector } from './selectors/proxy-selector.js';
import type { Upstream } from './upstream.js';

/** Prefix of the affinity cookies' names. */
export const AFFINITY_COOKIE_PREFIX = 'inteli_aff_';

/** The affinity a route resolved to (from its backends, else the proxy's default). */
export interface AffinityConfig {
  readonly mode: AffinityMode;
  /** With `hash`: the header hashed instead of the client address (lower case). */
  readonly header: string | undefined;
}

/** Computes cookie tokens, cached per route and upstream identity across rebuilds. */
export class AffinityTokens {
  readonly #secret: Buffer;
  #cache = new Map<string, string>();
  #seen = new Map<string, string>();

  constructor(secret: Buffer) {
    this.#secret = secret;
  }

  /** The token of an upstream on a route. */
  token(routeKey: string, upstream: Upstream): string {
    const id = `${routeKey}\u0000${upstream.backend.agentId}\u0000${upstream.origin}`;
    let token = this.#seen.get(id) ?? this.#cache.get(id);
    if (token === undefined) token = createHmac('sha256', this.#secret).update(id).digest('base64url').slice(0, 22);
    this.#seen.set(id, token);
    return token;
  }

  /** Called after a rebuild: forgets the tokens of upstreams that no route uses any more. */
  sweep(): void {
    this.#cache = this.#seen;
    this.#seen = new Map();
  }
}

/** The cookie's name for a route: the prefix and a hash of the rule, so names are valid cookie tokens. */
export function affinityCookieName(routeKey: string): string {
  return `${AFFINITY_COOKIE_PREFIX}${mix32(hashString(routeKey)).toString(36)}`;
}

/** Finds `name=value` in a Cookie header; the value, or undefined. */
export function cookieValue(header: string, name: string): string | undefined {
  let from = 0;
  while (from < header.length) {
    const at = header.indexOf(name, from);
    if (at === -1) return undefined;
    const before = at === 0 ? 0x3b : header.charCodeAt(at - 1);
    const end = at + name.length;
    // A match must start a cookie (after `;` or a space) and be followed by `=`, not be a longer name.
    if ((before === 0x3b || before === 0x20) && header.charCodeAt(end) === 0x3d) {
      const stop = header.indexOf(';', end + 1);
      return header.slice(end + 1, stop === -1 ? header.length : stop).trim();
    }
    from = end;
  }
  return undefined;
}

/** The rule's path as a cookie `Path`, or `/` when it holds a character an attribute cannot (`;`, `,`). */
function cookiePath(path: string): string {
  return /^[\x21-\x2b\x2d-\x3a\x3c-\x7e]+$/.test(path) ? path : '/';
}

/** Affinity of one route. */
export class RouteAffinity {
  readonly mode: AffinityMode;
  readonly header: string | undefined;
  /** Name of the route's cookie. */
  readonly cookieName: string;
  readonly #upstreams: readonly Upstream[];
  readonly #byToken = new Map<string, Upstream>();
  /** The `Set-Cookie` value per upstream, without and with `Secure`. */
  readonly #cookies = new Map<Upstream, readonly [string, string]>();

  constructor(config: AffinityConfig, routeKey: string, path: string, upstreams: readonly Upstream[], tokens: AffinityTokens) {
    this.mode = config.mode;
    this.header = config.header;
    this.cookieName = affinityCookieName(routeKey);
    this.#upstreams = upstreams;
    if (config.mode !== 'cookie') return;
    for (const upstream of upstreams) {
      const token = tokens.token(routeKey, upstream);
      this.#byToken.set(token, upstream);
      // HttpOnly: scripts never need it. SameSite=Lax: sent on top-level navigations, as a session is.
      const cookie = `${this.cookieName}=${token}; Path=${cookiePath(path)}; HttpOnly; SameSite=Lax`;
      this.#cookies.set(upstream, [cookie, `${cookie}; Secure`]);
    }
  }

  /**
   * Picks the upstream for a request: its sticky one when available, else the policy's pick (and, for
   * cookies, `facts.setCookie` is set so the answer remembers it).
   */
  select(selector: ProxySelector<Upstream>, facts: MutableRequestFacts): Upstream | undefined {
    if (this.mode === 'hash') {
      const key = (this.header === undefined ? undefined : facts.header(this.header)) ?? facts.clientAddress ?? '';
      return rendezvousPick(this.#upstreams, mix32(hashString(key)));
    }
    const raw = facts.rawHeaders;
    for (let index = 0; index < raw.length; index += 2) {
      const name = raw[index] as string;
      if (name.length !== 6 || name.toLowerCase() !== 'cookie') continue;
      const token = cookieValue(raw[index + 1] as string, this.cookieName);
      if (token === undefined) continue;
      const sticky = this.#byToken.get(token);
      if (sticky?.available === true) return sticky;
      break;
    }
    const upstream = selector.select(undefined, facts);
    if (upstream !== undefined) facts.setCookie = this.#cookies.get(upstream)?.[facts.encrypted ? 1 : 0];
    return upstream;
  }
}
