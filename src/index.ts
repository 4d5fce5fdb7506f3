/**
 * The public face of inteli-proxy: the proxy (`ProxyServer`), the embedded agent (`ProxyWebServer`), the
 * sysadmin client (`ProxySysAdmin`), the selection policies, the identity helpers and the error catalog.
 */
export { ProxyServer } from './proxy/proxy-server.js';
export type { ProxyAddresses, ProxyServerEvents } from './proxy/proxy-server.js';
export { resolveProxyOptions, DEFAULT_CERTSTORE_DIR } from './proxy/proxy-options.js';
export type { ProxyControlOptions, ProxyServerOptions, ResolvedProxyOptions } from './proxy/proxy-options.js';
export { CertificateManager } from './proxy/acme/certificate-manager.js';
export type { AcmeOptions } from './proxy/acme/acme-options.js';
export type { CertificateStorage, StorageLock, StoredAccount, StoredCertificate } from './proxy/acme/certificate-storage.js';
export { FileCertificateStorage } from './proxy/acme/file-certificate-storage.js';
export { RedisCertificateStorage } from './proxy/acme/redis-certificate-storage.js';
export { ClusterPrimary } from './proxy/cluster/cluster-primary.js';
export type { ClusterOptions } from './proxy/cluster/cluster-options.js';
export { ControlPlane } from './proxy/control-plane/control-plane.js';
export type {
  AgentEvent,
  BackendRejection,
  ControlPlaneLimits,
  ControlPlaneOptions,
  ControlPlaneStats,
  Gatekeeper,
  Registration,
  SessionInfo,
} from './proxy/control-plane/control-plane.js';
export { DEFAULT_ADMIN_AUDIENCE, DEFAULT_ADMIN_HOST, DEFAULT_ADMIN_PORT } from './proxy/admin/admin-options.js';
export type { AdminOptions } from './proxy/admin/admin-options.js';
export { TrustStore, MemoryTrustStore, FileTrustStore, createMemoryTrustStore, openFileTrustStore, MemoryReplayCache } from './shared/trust/index.js';
export type {
  AddKeyInput,
  AddKeyOptions,
  FileTrustStoreOptions,
  ReplayCache,
  ReplayVerdict,
  TrustedKey,
  TrustStoreEvents,
  TrustStoreHealth,
  TrustStoreKind,
} from './shared/trust/index.js';
export { RedisTrustStore } from './shared/trust/redis/redis-trust-store.js';
export type { RedisTrustStoreStats, RedisTrustStoreStatus } from './shared/trust/redis/redis-trust-store.js';
export type { RedisTrustStoreOptions } from './shared/trust/redis/redis-trust-store-options.js';
export { RedisReplayCache } from './shared/trust/redis/redis-replay-cache.js';
export type { RedisReplayCacheOptions } from './shared/trust/redis/redis-replay-cache.js';
export { FleetMembership } from './shared/fleet/fleet-membership.js';
export type { FleetMembershipEvents, FleetMembershipOptions, NodeRemovedReason } from './shared/fleet/fleet-membership.js';
export type { FleetNode } from './shared/fleet/fleet-node.js';
export type { RedisFleetOptions } from './proxy/fleet/fleet-options.js';
export { ProxyHost } from './proxy/proxy-host.js';
export type { Forwarding } from './proxy/forwarding.js';
export { TokenVerifier } from './proxy/control-plane/token-verifier.js';
export type { VerifiedIdentity } from './proxy/control-plane/token-verifier.js';
export type { DataPlaneOptions, TlsOptions } from './proxy/data-plane/data-plane-options.js';
export type { DataPlaneAddresses, DataPlaneSnapshot, DataPlaneState } from './proxy/data-plane/data-plane.js';
export type { RouteSnapshot } from './proxy/data-plane/routing-state.js';
export type { UpstreamSnapshot } from './proxy/data-plane/upstream.js';
export { parseRule, ruleKey } from './shared/routing/route-rule.js';
export type { RuleInput } from './shared/routing/route-rule.js';
export {
  SELECTORS,
  roundRobin,
  leastInFlight,
  weightedRoundRobin,
  RoundRobinSelector,
  LeastInFlightSelector,
  WeightedRoundRobinSelector,
} from './proxy/data-plane/selectors/index.js';
export type { ProxySelector, ProxySelectorFactory, ProxySelectorName, RequestFacts, SelectableUpstream } from './proxy/data-plane/selectors/index.js';
export { BackendRegistry } from './proxy/registry/backend-registry.js';
export type { Backend, BackendInput, BackendState, RemovalReason, RouteRule, TargetAddress } from './proxy/registry/backend.js';
export * from './webserver-agent/index.js';
export * from './sysadmin/index.js';
export { generateKeyPair, publicKeyFromPem } from './shared/identity/key-pair.js';
export type { Ed25519PrivateJwk, Ed25519PublicJwk } from './shared/identity/key-pair.js';
export { fingerprint } from './shared/identity/fingerprint.js';
export { signToken } from './shared/identity/sign-token.js';
export { publicKeyPin } from './shared/tls/public-key-pin.js';
export { generateDevCertificate } from './shared/tls/dev-certificate.js';
export { SUBPROTOCOL, CloseCode } from './shared/protocol.js';
export type { KeyRole, KeyScope, RuleSpec, TargetSpec } from './shared/protocol.js';
export { ProxyError, ControlError, AcmeError, isProxyError, ERROR_CATALOG } from './shared/errors.js';
export type { ErrorCode } from './shared/errors.js';
