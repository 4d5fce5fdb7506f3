/**
 * Options of {@link ProxySysAdmin} in three steps: `DEFAULT_*` constants, validation (an
 * {@link InvalidOptionError} naming the option and its range), and a frozen resolved object. The
 * connection options are every control client's (`shared/control-client/client-options.ts`).
 */
import {
  DEFAULT_CLIENT_AUDIENCE,
  DEFAULT_CLIENT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
  DEFAULT_CLIENT_TOKEN_TTL_SECONDS,
  integerOption,
  resolveControlClientOptions,
  type ControlClientOptions,
  type ResolvedControlClientOptions,
} from '../shared/control-client/client-options.js';
import { InvalidOptionError } from '../shared/errors.js';
import { assertValidAgentId } from '../shared/identity/agent-id.js';
import type { Logger } from '../shared/logger.js';

/** Default token audience (the proxy's default). */
export const DEFAULT_SYSADMIN_AUDIENCE = DEFAULT_CLIENT_AUDIENCE;
/** Default wait for the proxy's answer to one request, in milliseconds. */
export const DEFAULT_SYSADMIN_REQUEST_TIMEOUT_MS = 10_000;
/**
 * Default requests per second the client sends at most (bursts of as many): half the proxy's default
 * admin budget (`limits.adminMessagesPerSecond` 100, `adminBurst` 200), so a loop of calls is paced
 * instead of being cut with 4008.
 */
export const DEFAULT_SYSADMIN_REQUESTS_PER_SECOND = 50;
/** Default bound on the TCP + TLS + upgrade handshake, in milliseconds. */
export const DEFAULT_SYSADMIN_HANDSHAKE_TIMEOUT_MS = DEFAULT_CLIENT_HANDSHAKE_TIMEOUT_MS;
/**
 * Default silence after which the connection is considered dead, in milliseconds: three of the proxy's
 * default heartbeats, as for agents. A dead connection rejects the pending requests at once instead of
 * letting each wait for its own timeout.
 */
export const DEFAULT_SYSADMIN_IDLE_TIMEOUT_MS = DEFAULT_CLIENT_IDLE_TIMEOUT_MS;
/** Default lifetime of the dial's token, in seconds (it is used once, at the upgrade). */
export const DEFAULT_SYSADMIN_TOKEN_TTL_SECONDS = DEFAULT_CLIENT_TOKEN_TTL_SECONDS;

/** Options of {@link ProxySysAdmin}; the connection options are documented in {@link ControlClientOptions}. */
export interface ProxySysAdminOptions extends ControlClientOptions {
  /** Id of the admin key in the proxy's trust store (its role must be `admin`). Required. */
  adminId: string;
  /** Wait for each answer, in ms, 10 to 600000. Default 10000. */
  requestTimeoutMs?: number;
  /**
   * Requests per second the client sends at most, in bursts of as many, 1 to 10000 (keep it under the
   * proxy's `limits.adminMessagesPerSecond`, default 100). Default 50.
   */
  requestsPerSecond?: number;
  /** Logger; a child `{ component: 'sysadmin', adminId }` is taken. Default silent. */
  logger?: Logger;
}

/** Validated, frozen options. */
export interface ResolvedSysAdminOptions extends ResolvedControlClientOptions {
  readonly adminId: string;
  readonly requestTimeoutMs: number;
  readonly requestsPerSecond: number;
}

/**
 * Applies defaults and validates.
 *
 * @throws {InvalidOptionError} | {InvalidIdError} naming the first invalid option.
 */
export function resolveSysAdminOptions(options: ProxySysAdminOptions): ResolvedSysAdminOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('ProxySysAdmin: options are required');
  const connection = resolveControlClientOptions(options);
  return Object.freeze({
    ...connection,
    adminId: assertValidAgentId(options.adminId),
    requestTimeoutMs: integerOption('requestTimeoutMs', options.requestTimeoutMs, DEFAULT_SYSADMIN_REQUEST_TIMEOUT_MS, 10, 600_000),
    requestsPerSecond: integerOption('requestsPerSecond', options.requestsPerSecond, DEFAULT_SYSADMIN_REQUESTS_PER_SECOND, 1, 10_000),
  });
}
