/**
 * Public face of the agent side: the embedded `ProxyWebServer`, its options and events, the backoff
 * function, and the sidecar runner.
 */
export { ProxyWebServer } from './proxy-web-server.js';
export type { AdminDrainInfo, AgentState, ProxyLinkStatus, ProxyWebServerEvents } from './proxy-web-server.js';
export type { ProxyEndpoint } from './proxy-endpoints.js';
export type { HealthCheckFunction, HealthCheckOption, HealthCheckOptions } from './target-health-check.js';
export {
  DEFAULT_AGENT_AUDIENCE,
  DEFAULT_AGENT_HOST,
  DEFAULT_CLOSE_GRACE_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  resolveAgentOptions,
} from './agent-options.js';
export type { AdvertisedTarget, ProxyWebServerOptions, ResolvedAgentOptions } from './agent-options.js';
export { nextBackoffDelay, resolveBackoffOptions } from './backoff.js';
export type { BackoffOptions, ResolvedBackoffOptions } from './backoff.js';
export { parseServerMessage } from '../shared/control-client/server-message.js';
export { runAgentCli } from './run-agent-cli.js';
export type { AgentCliIo, AgentCliDependencies } from './run-agent-cli.js';
// The error classes, so that a backend importing only `inteli-proxy/agent` can branch on `code`.
export { ProxyError, ControlError, isProxyError } from '../shared/errors.js';
export type { ErrorCode } from '../shared/errors.js';
