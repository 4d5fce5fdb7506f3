/**
 * Options of the control plane in three steps: `DEFAULT_*` constants, validation (an
 * {@link InvalidOptionError} naming the option and its range), and a frozen resolved object.
 */
import type { TLSSocket } from 'node:tls';
import { InvalidOptionError } from '../../shared/errors.js';
import { AUDIENCE_PREFIX } from '../../shared/identity/proxy-audience.js';
import type { Logger } from '../../shared/logger.js';
import type { KeyRole } from '../../shared/protocol.js';
import type { BackendRegistry } from '../registry/backend-registry.js';
import type { ListenerAddress } from './own-listeners.js';
import type { Gatekeeper } from './registration.js';
import type { ReplayCache } from '../../shared/trust/replay-cache.js';
import type { FleetSource } from './fleet-handlers.js';
import type { TokenVerifier } from './token-verifier.js';
import type { TrustStore } from '../../shared/trust/trust-store.js';

/** Default control-plane port. */
export const DEFAULT_CONTROL_PORT = 3042;
/** Default listen address: every interface, because agents usually run on other machines. */
export const DEFAULT_CONTROL_HOST = '0.0.0.0';
/**
 * Prefix of the default token audience: with TLS the default is `inteli-proxy:<pin>` (the control
 * certificate's public-key pin, so a token is good for this proxy only), without TLS `inteli-proxy`.
 */
export const DEFAULT_AUDIENCE = AUDIENCE_PREFIX;
/** Default interval between pings, in milliseconds. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5000;
/** Default number of unanswered pings after which a session is evicted. */
export const DEFAULT_MISSED_PONGS = 2;
/** Default largest frame, in bytes (64 KiB). */
export const DEFAULT_MAX_FRAME_BYTES = 65_536;
/** Default time an agent session has to register after the upgrade, in milliseconds. */
export const DEFAULT_REGISTER_TIMEOUT_MS = 10_000;
/** Default sustained frames per second per session. */
export const DEFAULT_MESSAGES_PER_SECOND = 20;
/** Default burst of frames per session above the sustained rate. */
export const DEFAULT_MESSAGE_BURST = 40;
/** Default live sessions per key (several replicas may share a key; a reconnect needs a spare slot). */
export const DEFAULT_MAX_SESSIONS_PER_KEY = 8;
/** Default rules per registration. */
export const DEFAULT_MAX_RULES_PER_REGISTRATION = 32;
/** Default targets per registration. */
export const DEFAULT_MAX_TARGETS_PER_REGISTRATION = 16;
/** Default upgrade requests being authenticated at once. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 64;
/**
 * Default share of `maxPendingHandshakes` that callers whose token names no trusted key may hold: a
 * quarter, so a flood of unknown keys leaves three quarters of the admission to the known ones.
 */
export const DEFAULT_UNKNOWN_HANDSHAKE_SHARE = 0.25;
/**
 * Default upgrades of known keys that wait for a verification slot instead of being refused. A deploy
 * or a proxy restart brings thousands of agents at once: refused, each pays its TLS handshake again and
 * backs off further (2,000 agents at once: 1,244-1,293 refusals; queued: 0-387, and the proxy spends a
 * third less CPU on the storm; docs/scale.md).
 */
export const DEFAULT_MAX_QUEUED_HANDSHAKES = 1024;
/**
 * Default sustained frames per second of an ADMIN session: an operator's tool sends key batches and
 * listings in bursts that an agent never needs, so admin keys get their own, higher budget.
 */
export const DEFAULT_ADMIN_MESSAGES_PER_SECOND = 100;
/** Default burst of frames of an admin session. */
export const DEFAULT_ADMIN_MESSAGE_BURST = 200;
/** Default invalid frames tolerated per session before it is closed with 4002. */
export const DEFAULT_MAX_INVALID_FRAMES = 5;
/** Default bound on the TLS handshake and on receiving the upgrade request headers, in milliseconds. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Default bound on each gatekeeper, in milliseconds. */
export const DEFAULT_GATEKEEPER_TIMEOUT_MS = 5000;
/** Default wait for a peer's close frame before the socket is destroyed, in milliseconds. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 2000;
/** Default distinct rules one key may register within {@link DEFAULT_DISTINCT_RULES_WINDOW_MS}. */
export const DEFAULT_MAX_DISTINCT_RULES_PER_KEY = 256;
/** Default window of the distinct-rules cap, in milliseconds (10 minutes). */
export const DEFAULT_DISTINCT_RULES_WINDOW_MS = 600_000;
/** Default bytes queued to a slow session before it is closed with 4008 (16 maximum frames). */
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * DEFAULT_MAX_FRAME_BYTES;

/** Per-session and per-server limits. Breaking one closes only the offending session (4008). */
export interface ControlPlaneLimits {
  /** Largest frame in bytes, 128 to 16 MiB. Default 65536. A bigger frame closes the session with 4008. */
  maxFrameBytes?: number;
  /** Time an agent has to register after the upgrade, in ms, 10 to 600000. Default 10000. Admin sessions are exempt. */
  registerTimeoutMs?: number;
  /** Sustained frames per second per agent session, 0.1 to 10000. Default 20. */
  messagesPerSecond?: number;
  /** Burst of frames per agent session, 1 to 100000. Default 40. */
  burst?: number;
  /** Sustained frames per second per admin session, 0.1 to 10000. Default 100. */
  adminMessagesPerSecond?: number;
  /** Burst of frames per admin session, 1 to 100000. Default 200. */
  adminBurst?: number;
  /** Live sessions per key, 1 to 10000. Default 8. A further upgrade gets 429. */
  maxSessionsPerKey?: number;
  /** Rules per registration, 1 to 256. Default 32. */
  maxRulesPerRegistration?: number;
  /** Targets per registration, 1 to 256. Default 16. */
  maxTargetsPerRegistration?: number;
  /** Upgrade requests authenticated at once, 1 to 100000. Default 64. A further one gets 429. */
  maxPendingHandshakes?: number;
  /**
   * Of those, how many may come from callers whose token names no trusted key, 1 to
   * `maxPendingHandshakes`. Default a quarter of `maxPendingHandshakes` (16), at least 1. A further
   * unknown caller gets 429 while known keys are still admitted.
   */
  maxPendingUnknownHandshakes?: number;
  /**
   * Upgrade requests of known keys that wait, in arrival order, for one of the `maxPendingHandshakes`
   * slots instead of being refused, 0 to 100000. Default 1024. A further one gets 429, and so does one
   * that waited longer than half of `handshakeTimeoutMs` (before the agent's own timeout, 10 s by
   * default, gives up on it). Callers of unknown keys never wait.
   */
  maxQueuedHandshakes?: number;
  /** Invalid frames tolerated per session before it is closed with 4002, 0 to 1000. Default 5. */
  maxInvalidFrames?: number;
  /** TLS handshake and request-header timeout, in ms, 100 to 600000. Default 10000. */
  handshakeTimeoutMs?: number;
  /** Bound on each gatekeeper, in ms, 1 to 600000. Default 5000. */
  gatekeeperTimeoutMs?: number;
  /** Bytes queued to a session before it is closed as too slow, 1024 to 1 GiB. Default 1 MiB. */
  maxBufferedBytes?: number;
  /**
   * Distinct rules one key may register within `distinctRulesWindowMs`, over all its sessions, 1 to
   * 1000000. Default 256. A registration that would exceed it is refused with `RP_ERR_LIMIT_EXCEEDED`
   * (rule churn would otherwise keep the proxy rebuilding routes and counters).
   */
  maxDistinctRulesPerKey?: number;
  /** Window of `maxDistinctRulesPerKey`, in ms, 1000 to 86400000. Default 600000 (10 minutes). */
  distinctRulesWindowMs?: number;
}

/** TLS material of the control plane (PEM strings or buffers). */
export interface ControlPlaneTls {
  cert: string | Buffer;
  key: string | Buffer;
}

/** Options of {@link ControlPlane}. */
export interface ControlPlaneOptions {
  /** Where registrations go. Required. */
  registry: BackendRegistry;
  /** Trusted keys; removals close sessions at once. Required. */
  trustStore: TrustStore;
  /** Token verifier. Default a new `TokenVerifier({ trustStore, audience, replayCache })`. */
  verifier?: TokenVerifier;
  /** Replay cache of the default verifier (a fleet shares one in Redis). Default one in memory. */
  replayCache?: ReplayCache;
  /** What `fleet.list` answers (given by the host). Default: a proxy on its own, listing nothing. */
  fleet?: FleetSource;
  /**
   * Audience tokens must carry (used only to build the default verifier). Default `inteli-proxy:<pin>`
   * with TLS (the pin of the control certificate's public key, which agents read in the handshake), so a
   * token is good for this proxy only; `inteli-proxy` without TLS. Set it (for example to
   * `inteli-proxy`) only for agents that send a fixed audience.
   */
  audience?: string;
  /** Listen address. Default `0.0.0.0`. */
  host?: string;
  /** Listen port, 0 to 65535 (0 picks a free one). Default 3042. */
  port?: number;
  /** Certificate and key for wss. Required unless `insecure` is true. */
  tls?: ControlPlaneTls;
  /** Serve plain ws without TLS (tests and local development only; logs a warning). Default false. */
  insecure?: boolean;
  /** Resolves once no request is in flight to the backend (drain). Default resolves at once. */
  whenIdle?: (backendId: string) => Promise<void>;
  /**
   * Resolves once a newly registered backend is routable wherever requests are served; the `ack` waits
   * for it, so an agent's `start()` never resolves before every data plane routes to it. Needed when the
   * data planes live in other processes (cluster workers). Default: the registry is the data plane's
   * own, so the backend is routable at once.
   */
  whenRouted?: (backendId: string) => Promise<void>;
  /**
   * Roles that may open a session; a verified key of another role gets 403. Default both. Use
   * `['agent']` to keep key management off the network (the sysadmin CLI then edits the store file).
   */
  allowedRoles?: readonly KeyRole[];
  /**
   * The proxy's other listeners (data, TLS, admin; every worker shares their ports), read at each
   * registration: a target that would reach one of them, or the control plane itself, is refused with
   * `RP_ERR_OUT_OF_SCOPE` whatever the key's scope says. `ProxyServer` fills it in. Default: only the
   * control plane's own address.
   */
  ownListeners?: () => readonly ListenerAddress[];
  /** Run in order on every verified registration; a rejection refuses it with its message. Default none. */
  gatekeepers?: readonly Gatekeeper[];
  /** Interval between pings, in ms, 10 to 600000. Default 5000. */
  heartbeatIntervalMs?: number;
  /** Unanswered pings before eviction, 1 to 100. Default 2. */
  missedPongs?: number;
  /** Wait for a peer's close frame, in ms, 10 to 60000. Default 2000. */
  closeTimeoutMs?: number;
  /** Limits; see {@link ControlPlaneLimits}. */
  limits?: ControlPlaneLimits;
  /** Logger; a child `{ component: 'control-plane' }` is taken. Default silent. */
  logger?: Logger;
  /**
   * The proxy's side of the discovery channel proof (docs/discovery.md): given the upgrade's TLS socket
   * and the agent's `X-Inteli-Cluster-Proof` header, the proof to return in the 101 response, or
   * undefined to refuse the upgrade with 401. Called only for requests that carry the header. Default
   * none (the header is ignored). Set by `ProxyServer` when `discovery` is configured.
   */
  channelProof?: (socket: TLSSocket, agentProof: string) => string | undefined;
}

/**
 * Limits fixed when the server is built (the WebSocket frame bound and the handshake deadlines): a change
 * needs a restart. Every other limit can change on a running control plane and applies to new sessions.
 */
export const RESTART_ONLY_LIMITS = Object.freeze(['maxFrameBytes', 'handshakeTimeoutMs'] as const);

/** Fully resolved, frozen limits. */
export type ResolvedLimits = Readonly<Required<ControlPlaneLimits>>;

/** The options with defaults applied (except the objects the control plane builds itself). */
export interface ResolvedControlPlaneOptions {
  /** The configured audience; undefined: derived from the certificate's pin. */
  readonly audience: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly tls: Readonly<ControlPlaneTls> | undefined;
  readonly heartbeatIntervalMs: number;
  readonly missedPongs: number;
  readonly closeTimeoutMs: number;
  readonly gatekeepers: readonly Gatekeeper[];
  readonly allowedRoles: ReadonlySet<KeyRole>;
  readonly limits: ResolvedLimits;
}

function number(name: string, value: unknown, fallback: number, min: number, max: number, integer = true): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || Number.isNaN(resolved) || (integer && !Number.isInteger(resolved)) || resolved < min || resolved > max) {
    throw new InvalidOptionError(`${name}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${String(value)}`);
  }
  return resolved;
}

/** Applies defaults to, validates and freezes the limits. @throws {InvalidOptionError} naming the limit. */
export function resolveLimits(limits: ControlPlaneLimits = {}): ResolvedLimits {
  if (typeof limits !== 'object' || limits === null) throw new InvalidOptionError('limits: expected an object');
  const maxFrameBytes = number('limits.maxFrameBytes', limits.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 128, 16 * 1024 * 1024);
  const maxPendingHandshakes = number('limits.maxPendingHandshakes', limits.maxPendingHandshakes, DEFAULT_MAX_PENDING_HANDSHAKES, 1, 100_000);
  return Object.freeze({
    maxFrameBytes,
    registerTimeoutMs: number('limits.registerTimeoutMs', limits.registerTimeoutMs, DEFAULT_REGISTER_TIMEOUT_MS, 10, 600_000),
    messagesPerSecond: number('limits.messagesPerSecond', limits.messagesPerSecond, DEFAULT_MESSAGES_PER_SECOND, 0.1, 10_000, false),
    burst: number('limits.burst', limits.burst, DEFAULT_MESSAGE_BURST, 1, 100_000),
    maxSessionsPerKey: number('limits.maxSessionsPerKey', limits.maxSessionsPerKey, DEFAULT_MAX_SESSIONS_PER_KEY, 1, 10_000),
    maxRulesPerRegistration: number('limits.maxRulesPerRegistration', limits.maxRulesPerRegistration, DEFAULT_MAX_RULES_PER_REGISTRATION, 1, 256),
    maxTargetsPerRegistration: number('limits.maxTargetsPerRegistration', limits.maxTargetsPerRegistration, DEFAULT_MAX_TARGETS_PER_REGISTRATION, 1, 256),
    adminMessagesPerSecond: number('limits.adminMessagesPerSecond', limits.adminMessagesPerSecond, DEFAULT_ADMIN_MESSAGES_PER_SECOND, 0.1, 10_000, false),
    adminBurst: number('limits.adminBurst', limits.adminBurst, DEFAULT_ADMIN_MESSAGE_BURST, 1, 100_000),
    maxPendingHandshakes,
    maxPendingUnknownHandshakes: number(
      'limits.maxPendingUnknownHandshakes',
      limits.maxPendingUnknownHandshakes,
      Math.max(1, Math.floor(maxPendingHandshakes * DEFAULT_UNKNOWN_HANDSHAKE_SHARE)),
      1,
      maxPendingHandshakes,
    ),
    maxQueuedHandshakes: number('limits.maxQueuedHandshakes', limits.maxQueuedHandshakes, DEFAULT_MAX_QUEUED_HANDSHAKES, 0, 100_000),
    maxInvalidFrames: number('limits.maxInvalidFrames', limits.maxInvalidFrames, DEFAULT_MAX_INVALID_FRAMES, 0, 1000),
    handshakeTimeoutMs: number('limits.handshakeTimeoutMs', limits.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS, 100, 600_000),
    gatekeeperTimeoutMs: number('limits.gatekeeperTimeoutMs', limits.gatekeeperTimeoutMs, DEFAULT_GATEKEEPER_TIMEOUT_MS, 1, 600_000),
    maxBufferedBytes: number('limits.maxBufferedBytes', limits.maxBufferedBytes, 16 * maxFrameBytes, 1024, 1024 * 1024 * 1024),
    maxDistinctRulesPerKey: number('limits.maxDistinctRulesPerKey', limits.maxDistinctRulesPerKey, DEFAULT_MAX_DISTINCT_RULES_PER_KEY, 1, 1_000_000),
    distinctRulesWindowMs: number('limits.distinctRulesWindowMs', limits.distinctRulesWindowMs, DEFAULT_DISTINCT_RULES_WINDOW_MS, 1000, 86_400_000),
  });
}

/**
 * Applies defaults to and validates the plain options (the registry, trust store, verifier, callbacks and
 * logger are checked by the control plane itself).
 *
 * @throws {InvalidOptionError} naming the first invalid option.
 */
export function resolveControlPlaneOptions(options: ControlPlaneOptions): ResolvedControlPlaneOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('ControlPlane: options are required');
  const audience = options.audience;
  if (audience !== undefined && (typeof audience !== 'string' || audience.length === 0 || audience.length > 256)) {
    throw new InvalidOptionError('audience: expected a string of 1 to 256 characters');
  }
  const host = options.host ?? DEFAULT_CONTROL_HOST;
  if (typeof host !== 'string' || host.length === 0) throw new InvalidOptionError('host: expected a listen address');
  let tls: Readonly<ControlPlaneTls> | undefined;
  if (options.tls !== undefined) {
    const { cert, key } = options.tls;
    const pem = (value: unknown): boolean => (typeof value === 'string' || Buffer.isBuffer(value)) && value.length > 0;
    if (!pem(cert) || !pem(key)) throw new InvalidOptionError('tls: expected { cert, key } as PEM strings or buffers');
    if (options.insecure === true) throw new InvalidOptionError('insecure: cannot be combined with tls; pick one');
    tls = Object.freeze({ cert, key });
  } else if (options.insecure !== true) {
    throw new InvalidOptionError('tls: a certificate and key are required (or set insecure: true for plain ws in development)');
  }
  const gatekeepers = options.gatekeepers ?? [];
  if (!Array.isArray(gatekeepers) || gatekeepers.some((gatekeeper) => typeof gatekeeper !== 'function')) {
    throw new InvalidOptionError('gatekeepers: expected an array of async functions (identity, registration) => void');
  }
  const roles = options.allowedRoles ?? ['agent', 'admin'];
  if (!Array.isArray(roles) || roles.length === 0 || roles.some((role) => role !== 'agent' && role !== 'admin')) {
    throw new InvalidOptionError('allowedRoles: expected a non-empty array of "agent" and/or "admin"');
  }
  return Object.freeze({
    audience,
    host,
    port: number('port', options.port, DEFAULT_CONTROL_PORT, 0, 65_535),
    tls,
    heartbeatIntervalMs: number('heartbeatIntervalMs', options.heartbeatIntervalMs, DEFAULT_HEARTBEAT_INTERVAL_MS, 10, 600_000),
    missedPongs: number('missedPongs', options.missedPongs, DEFAULT_MISSED_PONGS, 1, 100),
    closeTimeoutMs: number('closeTimeoutMs', options.closeTimeoutMs, DEFAULT_CLOSE_TIMEOUT_MS, 10, 60_000),
    gatekeepers: Object.freeze([...gatekeepers]),
    allowedRoles: new Set<KeyRole>(roles),
    limits: resolveLimits(options.limits),
  });
}
