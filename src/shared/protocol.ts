/**
 * The control-plane protocol (`inteli.v2`): JSON text frames over a WebSocket that was authenticated
 * before the upgrade. Frames carry no credentials; the identity belongs to the connection.
 *
 * Requests carry an `id` (1 to 64 characters) that the reply echoes in an `ack` or an `error`.
 */
import type { ErrorCode } from './errors.js';

/** WebSocket sub-protocol the proxy requires. */
export const SUBPROTOCOL = 'inteli.v2';

/** Close codes of the control plane (4000-4999 is the range RFC 6455 leaves to applications). */
export const CloseCode = Object.freeze({
  /** Normal closure (agent left or proxy stopping). */
  NORMAL: 1000,
  /** The proxy is going away (stop). */
  GOING_AWAY: 1001,
  /** A frame was not valid protocol (binary, non-JSON, bad shape) too often. */
  PROTOCOL_ERROR: 4002,
  /** The caller is not authenticated (token invalid after the fact). */
  UNAUTHORIZED: 4001,
  /** Forbidden or revoked: the key was removed or may not do this. */
  FORBIDDEN: 4003,
  /** A limit was exceeded (frame size, rate, registration deadline, sessions per key). */
  LIMIT_EXCEEDED: 4008,
  /** A newer session of the same agent replaced this one. */
  SUPERSEDED: 4009,
});

/** A target as declared in a registration. */
export interface TargetSpec {
  host: string;
  port: number;
  /** Default `http`. */
  protocol?: 'http' | 'https';
}

/** A rule as declared in a registration: a path prefix string or `{ path, host }`. */
export type RuleSpec = string | { path: string; host?: string };

/** Agent: declare the targets and rules it serves. Answered by `ack` once the routes are live. */
export interface RegisterMessage {
  type: 'register';
  id: string;
  targets: TargetSpec[];
  rules: RuleSpec[];
  /** 1 to 1000, default 1. */
  weight?: number;
  /** Free-form string labels, at most 16 of at most 256 characters. */
  meta?: Record<string, string>;
  /** Session affinity for the registered rules: `cookie` or `hash`. Default: the proxy's. */
  affinity?: 'cookie' | 'hash';
  /** With `hash`: hash this request header (a token, at most 64 characters) instead of the client address. */
  affinityHeader?: string;
  /** Longest silence between response body chunks on these rules, in ms (0: none). Default: the proxy's. */
  bodyTimeoutMs?: number;
}

/**
 * Agent: the result of its health check of its target. `healthy: false` stops new requests to the
 * backend (state `unhealthy`) until a later `healthy: true`. Acked.
 */
export interface HealthMessage {
  type: 'health';
  id: string;
  healthy: boolean;
  /** Why, for logs and `backends list` (at most 256 characters). */
  reason?: string;
}

/** Agent: stop receiving new requests; the proxy acks, then sends `drained` when in-flight ones finish. */
export interface DrainMessage {
  type: 'drain';
  id: string;
}

/** Either side: a custom event (legiond's idea), delivered to `ProxyServer`'s `message` event. */
export interface EventMessage {
  type: 'event';
  id?: string;
  name: string;
  data?: unknown;
}

/** Scope of a trusted key: which rules and target hosts an agent may register. */
export interface KeyScope {
  /** Path prefixes (optionally `host/path`) the key may register; empty means none but those listed. */
  rules?: string[];
  /** Hosts or CIDRs the key's targets may point to; absent means the agent's own socket address. */
  hosts?: string[];
  /**
   * Whether the key's host-less rules (`/api`) also let it register host-bound rules below them
   * (`api.example.com/api/x`). Default false: a host-bound rule needs a scope rule naming that host,
   * so a broad grant cannot take over a host's route (issue 14).
   */
  anyHost?: boolean;
}

/** Role of a trusted key. */
export type KeyRole = 'agent' | 'admin';

/** Admin: trust a public key. */
export interface KeysAddMessage {
  type: 'keys.add';
  id: string;
  keyId: string;
  /** Ed25519 public JWK. */
  publicKey: Record<string, unknown>;
  role?: KeyRole;
  scope?: KeyScope;
  /**
   * Replace an existing key with this id (its live sessions are closed with 4003, as on removal).
   * Default false: an existing id is refused with `RP_ERR_ALREADY_EXISTS`.
   */
  replace?: boolean;
}

/** Most keys one `keys.import` frame may carry (a client splits a larger import into batches). */
export const MAX_KEYS_PER_IMPORT = 100;

/** One key of a `keys.import` frame: the fields of `keys.add`. */
export interface KeyImportEntry {
  keyId: string;
  /** Ed25519 public JWK. */
  publicKey: Record<string, unknown>;
  role?: KeyRole;
  scope?: KeyScope;
  /** Replace an existing key with this id (as `keys.add` with `replace`). Default false. */
  replace?: boolean;
}

/**
 * Admin: trust up to {@link MAX_KEYS_PER_IMPORT} keys in one frame. Each key is applied and audited as a
 * `keys.add` would be; the `ack` answers per key (`added`, or `refused` with a code), in order.
 */
export interface KeysImportMessage {
  type: 'keys.import';
  id: string;
  keys: KeyImportEntry[];
}

/** Admin: remove a key; its live sessions are closed with 4003 at once. */
export interface KeysRemoveMessage {
  type: 'keys.remove';
  id: string;
  keyId: string;
}

/** Admin: list trusted keys (no key material beyond the public JWK's thumbprint). */
export interface KeysListMessage {
  type: 'keys.list';
  id: string;
}

/** Admin: list registered backends. */
export interface BackendsListMessage {
  type: 'backends.list';
  id: string;
}

/** Admin: list the proxies of the fleet (this one alone when it runs without Redis). */
export interface FleetListMessage {
  type: 'fleet.list';
  id: string;
}

/** Admin: drain every backend of an agent. */
export interface BackendsDrainMessage {
  type: 'backends.drain';
  id: string;
  agentId: string;
}

/** Admin: undo `backends.drain` for an agent: its backends take new requests again. */
export interface BackendsUndrainMessage {
  type: 'backends.undrain';
  id: string;
  agentId: string;
}

/**
 * Names of the events the proxy sends an agent when an admin drains or undrains it
 * (`{ type: 'event', name, data: { by, backendIds } }`).
 */
export const ADMIN_DRAIN_EVENT = 'inteli:drained-by-admin';
export const ADMIN_UNDRAIN_EVENT = 'inteli:undrained-by-admin';

/** Every frame a client (agent or admin) may send. */
export type ClientMessage =
  | RegisterMessage
  | HealthMessage
  | DrainMessage
  | EventMessage
  | KeysAddMessage
  | KeysImportMessage
  | KeysRemoveMessage
  | KeysListMessage
  | BackendsListMessage
  | BackendsDrainMessage
  | BackendsUndrainMessage
  | FleetListMessage;

/** Message types only admin keys may send. */
export const ADMIN_MESSAGE_TYPES: ReadonlySet<string> = new Set([
  'keys.add',
  'keys.import',
  'keys.remove',
  'keys.list',
  'backends.list',
  'backends.drain',
  'backends.undrain',
  'fleet.list',
]);

/** Proxy: the request with this `id` succeeded. */
export interface AckMessage {
  type: 'ack';
  id: string;
  result?: unknown;
}

/** Proxy: the request with this `id` (or the last frame, when it had none) failed. */
export interface ErrorMessage {
  type: 'error';
  id?: string;
  code: ErrorCode;
  message: string;
}

/** Proxy: every request in flight to the drained backend has finished; it may close. */
export interface DrainedMessage {
  type: 'drained';
}

/** Every frame the proxy may send. */
export type ServerMessage = AckMessage | ErrorMessage | DrainedMessage | EventMessage;
