/**
 * What message handlers may touch: the registry, the trust store, the session index, the resolved
 * options and the control plane's event hooks. A narrow interface, so handlers never see the server,
 * the sockets or the lifecycle.
 */
import type { ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { Backend } from '../registry/backend.js';
import type { BackendRegistry } from '../registry/backend-registry.js';
import type { ResolvedControlPlaneOptions } from './control-plane-options.js';
import type { ControlPlaneCounters } from './control-plane-stats.js';
import type { FleetSource } from './fleet-handlers.js';
import type { ListenerAddress } from './own-listeners.js';
import type { RuleHistory } from './rule-history.js';
import type { SessionIndex } from './session-index.js';
import type { TrustStore } from '../../shared/trust/trust-store.js';

/** Payload of the `backend_rejected` event. */
export interface BackendRejection {
  /** The authenticated agent id. */
  readonly agentId: string;
  /** Why, as an error code (`RP_ERR_OUT_OF_SCOPE`, `RP_ERR_REJECTED`, `RP_ERR_INVALID_MESSAGE`, ...). */
  readonly code: ErrorCode;
  /** Human-readable reason (never contains credentials). */
  readonly reason: string;
}

/** Payload of the `message` event: a custom event sent by an agent. */
export interface AgentEvent {
  /** The authenticated sender (from the connection, never from the frame). */
  readonly agentId: string;
  /** Event name. */
  readonly name: string;
  /** Event data as sent (parsed JSON). */
  readonly data: unknown;
}

/** Shared state and hooks of the message handlers. */
export interface ControlContext {
  readonly registry: BackendRegistry;
  readonly trustStore: TrustStore;
  readonly sessions: SessionIndex;
  readonly options: ResolvedControlPlaneOptions;
  readonly whenIdle: (backendId: string) => Promise<void>;
  /** Resolves once a new backend is routable everywhere requests are served; undefined: at once. */
  readonly whenRouted: ((backendId: string) => Promise<void>) | undefined;
  readonly logger: Logger;
  readonly counters: ControlPlaneCounters;
  /** The fleet this proxy belongs to (`fleet.list`); undefined for a proxy on its own. */
  readonly fleet?: FleetSource | undefined;
  /** The proxy's listeners (control plane included), never a valid target. */
  readonly ownListeners: () => readonly ListenerAddress[];
  /** Distinct rules per key over time (the rule-churn cap). */
  readonly ruleHistory: RuleHistory;
  /** A backend of this control plane joined the registry. */
  backendAdded(backend: Backend): void;
  /** A registration was refused. */
  backendRejected(rejection: BackendRejection): void;
  /** An agent sent a custom event. */
  agentEvent(event: AgentEvent): void;
  /** Closes every session of a key with 4003 (its backends are removed with reason `revoked`). */
  revokeKey(keyId: string): number;
  /**
   * Agent ids an admin drained (`backends.drain`) and has not undrained: their backends, including those
   * registered later by a reconnecting agent, take no new requests until `backends.undrain`.
   */
  readonly adminDrained: Set<string>;
}
