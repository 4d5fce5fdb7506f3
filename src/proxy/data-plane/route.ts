/** A route: one rule, the upstreams of every backend that serves it, and the route's selection policy. */
import type { RouteRule } from '../registry/backend.js';
import type { RouteAffinity } from './route-affinity.js';
import type { ProxySelector } from './selectors/proxy-selector.js';
import type { Upstream } from './upstream.js';

/** A compiled route. Rebuilt on every registry change; the selector is carried over for the same rule. */
export interface Route {
  /** `ruleKey(rule)`: `/api` or `example.com/api`. */
  readonly key: string;
  readonly rule: RouteRule;
  /** Every upstream of the rule, available or not, in backend registration order. */
  readonly upstreams: readonly Upstream[];
  readonly selector: ProxySelector<Upstream>;
  /** Session affinity, when the route's backends (or the proxy's default) ask for it. */
  readonly affinity: RouteAffinity | undefined;
  /** Body timeout of the route's backends, in ms (0: none); undefined: the proxy's. */
  readonly bodyTimeoutMs: number | undefined;
  /**
   * True for a rule reserved by a trusted key's scope with no backend registered for it: it matches, has
   * no upstream, and so answers 403 `NO_TARGET` instead of letting a shorter rule take the request.
   */
  readonly reserved: boolean;
}
