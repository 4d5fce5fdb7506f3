/**
 * Plain, serializable data describing what the registry holds. No sockets, no pools, no timers: the data
 * plane builds its routing table from these values, and the control plane produces them.
 */
import type { RouteRule } from '../../shared/routing/route-rule.js';

/** A routing rule; defined beside its parser in `shared/routing` so the sysadmin tools can check rules too. */
export type { RouteRule };

/** Where a backend can be reached. */
export interface TargetAddress {
  /** Scheme the proxy uses to reach the target. */
  readonly protocol: 'http' | 'https';
  /** Host name or IP address. */
  readonly host: string;
  /** TCP port, 1 to 65535. */
  readonly port: number;
}


/**
 * Lifecycle of a registered backend as the balancer sees it: `draining` (the agent or an admin asked for
 * it) and `unhealthy` (the agent's health check of its target failed) both mean no new requests.
 */
export type BackendState = 'ready' | 'draining' | 'unhealthy';

/**
 * Session affinity of a route: `cookie` (the proxy sets a signed cookie naming the target) or `hash`
 * (consistent hashing of the client address, or of a request header when one is named).
 */
export type AffinityMode = 'cookie' | 'hash';

/** What a backend asks of the routes it serves (plain data; travels to cluster workers with the record). */
export interface RouteSettings {
  /** Session affinity; undefined: the proxy's default. */
  readonly affinity?: AffinityMode | undefined;
  /** With `hash`: the request header hashed instead of the client address (lower case). */
  readonly affinityHeader?: string | undefined;
  /** Longest silence between response body chunks, in ms (0: none); undefined: the proxy's. */
  readonly bodyTimeoutMs?: number | undefined;
}

/** Why a backend left the registry. */
export type RemovalReason = 'left' | 'drained' | 'timeout' | 'revoked' | 'superseded' | 'error' | 'stopped';

/** One registration: an agent's targets and the rules they serve. */
export interface Backend extends RouteSettings {
  /** Unique id of this registration (an agent that re-registers gets a new one). */
  readonly id: string;
  /** The authenticated agent (key) id. */
  readonly agentId: string;
  /** RFC 7638 thumbprint of the agent's key, when it came through the control plane. */
  readonly fingerprint?: string | undefined;
  /** Addresses requests are forwarded to. */
  readonly targets: readonly TargetAddress[];
  /** Rules this backend serves. */
  readonly rules: readonly RouteRule[];
  /** Relative weight for the weighted policy, 1 to 1000. */
  readonly weight: number;
  /** `draining` backends receive no new requests. */
  readonly state: BackendState;
  /** Free-form labels from the agent (string values only). */
  readonly meta: Readonly<Record<string, string>>;
  /** Epoch milliseconds of the registration. */
  readonly registeredAt: number;
}

/** What a caller supplies to register a backend; the registry fills in the rest. */
export interface BackendInput extends RouteSettings {
  readonly agentId: string;
  readonly fingerprint?: string | undefined;
  readonly targets: readonly TargetAddress[];
  readonly rules: readonly RouteRule[];
  readonly weight?: number | undefined;
  readonly meta?: Readonly<Record<string, string>> | undefined;
  /** Initial state. Default `ready` (an agent an admin drained registers again as `draining`). */
  readonly state?: BackendState | undefined;
}

/** A stable key for a target, `protocol://host:port`, used to share one connection pool per origin. */
export function targetOrigin(target: TargetAddress): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${target.protocol}://${host}:${target.port}`;
}
