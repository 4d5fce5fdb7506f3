/**
 * The state a session's backend should be in, from the three things that can hold it back: the agent's
 * own drain (the session is DRAINING), an admin's drain of the agent (`backends.drain`, until
 * `backends.undrain`) and the agent's health check of its target. Draining wins over unhealthy, so an
 * agent whose target recovers while an admin holds it drained stays drained.
 */
import type { BackendState } from '../registry/backend.js';
import type { ControlContext } from './control-context.js';
import type { Session } from './session.js';

/** The state the backend of `session` should have now. */
export function desiredState(context: ControlContext, session: Session): BackendState {
  if (session.state === 'DRAINING' || context.adminDrained.has(session.identity.id)) return 'draining';
  return session.healthy ? 'ready' : 'unhealthy';
}

/**
 * Puts the session's backend in its desired state; returns the backend id when its state changed.
 * A session draining on its own request is left alone (its drain removes the backend when idle).
 */
export function applyState(context: ControlContext, session: Session): string | undefined {
  const backendId = session.backendId;
  if (backendId === undefined || session.state === 'DRAINING' || session.closing) return undefined;
  const before = context.registry.get(backendId)?.state;
  const state = desiredState(context, session);
  if (before === undefined || before === state) return undefined;
  context.registry.setState(backendId, state);
  return backendId;
}
