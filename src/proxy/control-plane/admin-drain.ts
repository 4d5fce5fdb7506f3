/**
 * An admin's drain and undrain of an agent (`backends.drain`, `backends.undrain`, and the programmatic
 * `ControlPlane.drainAgent`/`undrainAgent`). Unlike the agent's own `drain`, which ends with `drained`
 * and the backend leaving, an admin drain only stops new requests: the backend stays registered (listed
 * as `draining`), in-flight requests finish where they are, and `undrain` routes it again. The agent id
 * stays drained across reconnects until undrained, and each live session is told with an event
 * ({@link ADMIN_DRAIN_EVENT} / {@link ADMIN_UNDRAIN_EVENT}, data `{ by, backendIds }`) so the agent can log
 * it instead of idling without knowing why.
 */
import { ADMIN_DRAIN_EVENT, ADMIN_UNDRAIN_EVENT } from '../../shared/protocol.js';
import { applyState } from './backend-state.js';
import type { ControlContext } from './control-context.js';

function backendIdsOf(context: ControlContext, agentId: string): string[] {
  const ids: string[] = [];
  for (const session of context.sessions.forKey(agentId)) {
    if (!session.closing && session.backendId !== undefined) ids.push(session.backendId);
  }
  return ids;
}

function tell(context: ControlContext, agentId: string, name: string, by: string, backendIds: string[]): void {
  for (const session of context.sessions.forKey(agentId)) {
    if (!session.closing) session.send({ type: 'event', name, data: { by, backendIds } });
  }
}

/**
 * Drains every backend the control plane holds for an agent (idempotent). Returns their ids, the ones
 * already draining included; empty when the agent has none (nothing is remembered then).
 *
 * @param by who asked (an admin key id, or `api`), for the agent's log.
 */
export function drainAgent(context: ControlContext, agentId: string, by: string): string[] {
  const backendIds = backendIdsOf(context, agentId);
  if (backendIds.length === 0) return backendIds;
  context.adminDrained.add(agentId);
  for (const session of context.sessions.forKey(agentId)) applyState(context, session);
  context.logger.info({ agentId, backendIds, by }, 'agent drained by an admin');
  tell(context, agentId, ADMIN_DRAIN_EVENT, by, backendIds);
  return backendIds;
}

/**
 * Undoes {@link drainAgent} (idempotent). Returns the ids of the agent's backends; empty when it has
 * none (the drain is forgotten all the same, so a reconnecting agent is routed again).
 */
export function undrainAgent(context: ControlContext, agentId: string, by: string): string[] {
  context.adminDrained.delete(agentId);
  const backendIds = backendIdsOf(context, agentId);
  if (backendIds.length === 0) return backendIds;
  for (const session of context.sessions.forKey(agentId)) applyState(context, session);
  context.logger.info({ agentId, backendIds, by }, 'agent undrained by an admin');
  tell(context, agentId, ADMIN_UNDRAIN_EVENT, by, backendIds);
  return backendIds;
}
