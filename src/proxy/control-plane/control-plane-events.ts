/**
 * The events a {@link ControlPlane} emits. `ProxyServer` re-emits the backend and message events under
 * the same names, so their payloads are plain data (no sockets, no sessions).
 */
import type { AddressInfo } from 'node:net';
import type { Backend, RemovalReason } from '../registry/backend.js';
import type { AgentEvent, BackendRejection } from './control-context.js';
import type { SessionInfo } from './session.js';

/** Events of {@link ControlPlane}. */
export interface ControlPlaneEvents {
  /** The server listens. */
  listening: [address: AddressInfo];
  /** A backend registered through this control plane joined the registry. */
  backend_added: [backend: Backend];
  /** A backend of this control plane left the registry (`left`, `drained`, `timeout`, `revoked`, `superseded`, `error`, `stopped`). */
  backend_removed: [backend: Backend, reason: RemovalReason];
  /** An authenticated agent's registration (or session) was refused. */
  backend_rejected: [rejection: BackendRejection];
  /** An agent sent a custom event. */
  message: [event: AgentEvent];
  /** An authenticated session opened (agent or admin). */
  session_opened: [session: SessionInfo];
  /** A session closed; `reason` is the removal reason its backend (if any) left with. */
  session_closed: [session: SessionInfo, reason: RemovalReason];
  /** A runtime failure that did not stop the control plane (emitted only when someone listens). */
  error: [error: Error];
}
