/**
 * The immutable lookup structure the hot path uses: maps from a rule path to its route, one for any-host
 * rules and one per host. A lookup walks the request path's segment prefixes from the longest to the
 * shortest (`/a/b/c`, `/a/b`, `/a`, `/`), so it costs O(segments) map lookups whatever the number of
 * rules, and at each length a host-specific rule beats an any-host one. No regular expression is involved.
 */
import { normalizeHost } from '../../shared/routing/route-rule.js';
import type { Route } from './route.js';

const SLASH = 0x2f;

/** Routes by rule, ready for lookups. Built by the routing state and swapped atomically. */
export class RouteTable {
  /** Every route, for snapshots. */
  readonly routes: readonly Route[];
  readonly #anyHost = new Map<string, Route>();
  readonly #byHost = new Map<string, Map<string, Route>>();
  /** Deepest rule, in segments: shorter prefixes of deeper paths are all that need looking up. */
  readonly #maxDepth: number;

  constructor(routes: readonly Route[]) {
    this.routes = routes;
    let maxDepth = 0;
    for (const route of routes) {
      const { path, host } = route.rule;
      if (host === undefined) {
        this.#anyHost.set(path, route);
      } else {
        let paths = this.#byHost.get(host);
        if (paths === undefined) this.#byHost.set(host, (paths = new Map()));
        paths.set(path, route);
      }
      maxDepth = Math.max(maxDepth, depth(path));
    }
    this.#maxDepth = maxDepth;
  }

  /** True when any rule names a host (otherwise the Host header need not be looked at). */
  get hasHostRules(): boolean {
    return this.#byHost.size > 0;
  }

  /**
   * The route of the longest rule matching `path` on a segment boundary.
   *
   * @param host the request's Host header (any case, port allowed) or undefined.
   * @param target the normalised request target (path and query).
   * @param end where the path ends in `target` (before `?`).
   */
  match(host: string | undefined, target: string, end: number): Route | undefined {
    const hostRoutes = host === undefined || this.#byHost.size === 0 ? undefined : this.#byHost.get(normalizeHost(host) ?? '');
    const anyHost = this.#anyHost;
    // Ignore a trailing slash: `/api/` is the `/api` prefix.
    let length = end > 1 && target.charCodeAt(end - 1) === SLASH ? end - 1 : end;
    // Skip the prefixes deeper than any rule: they cannot match.
    let segments = 0;
    for (let index = 0; index < length; index += 1) {
      if (target.charCodeAt(index) === SLASH && ++segments > this.#maxDepth) {
        length = index === 0 ? 1 : index;
        break;
      }
    }
    while (length > 0) {
      const prefix = length === target.length ? target : target.slice(0, length);
      const route = hostRoutes?.get(prefix) ?? anyHost.get(prefix);
      if (route !== undefined) return route;
      if (length === 1) break;
      length = target.lastIndexOf('/', length - 1);
      if (length === 0) length = 1;
    }
    return undefined;
  }
}

function depth(path: string): number {
  if (path === '/') return 0;
  let count = 0;
  for (let index = 0; index < path.length; index += 1) if (path.charCodeAt(index) === SLASH) count += 1;
  return count;
}
