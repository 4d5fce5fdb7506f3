/** A route: one rule, the upstreams of every backend that serves it, and the route's selection policy. */
import type { RouteRule } from '../registry/backend.js';
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
}
