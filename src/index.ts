/**
 * The public face of inteli-proxy. Agents (`ProxyWebServer`) and the sysadmin client (`ProxySysAdmin`)
 * are exported from here as they land.
 */
export { ProxyServer } from './proxy/proxy-server.js';
export type { ProxyAddresses, ProxyServerEvents } from './proxy/proxy-server.js';
export { resolveProxyOptions } from './proxy/proxy-options.js';
export type { ProxyServerOptions, ResolvedProxyOptions } from './proxy/proxy-options.js';
export type { DataPlaneOptions, TlsOptions } from './proxy/data-plane/data-plane-options.js';
export type { DataPlaneAddresses, DataPlaneSnapshot, DataPlaneState } from './proxy/data-plane/data-plane.js';
export type { RouteSnapshot } from './proxy/data-plane/routing-state.js';
export type { UpstreamSnapshot } from './proxy/data-plane/upstream.js';
export { parseRule, ruleKey } from './proxy/data-plane/route-rule.js';
export type { RuleInput } from './proxy/data-plane/route-rule.js';
export {
  SELECTORS,
  roundRobin,
  leastInFlight,
  weightedRoundRobin,
  RoundRobinSelector,
  LeastInFlightSelector,
  WeightedRoundRobinSelector,
} from './proxy/data-plane/selectors/index.js';
export type { ProxySelector, ProxySelectorFactory, ProxySelectorName, SelectableUpstream } from './proxy/data-plane/selectors/index.js';
export { BackendRegistry } from './proxy/registry/backend-registry.js';
export type { Backend, BackendInput, BackendState, RemovalReason, RouteRule, TargetAddress } from './proxy/registry/backend.js';
export { ProxyError, isProxyError, ERROR_CATALOG } from './shared/errors.js';
export type { ErrorCode } from './shared/errors.js';
