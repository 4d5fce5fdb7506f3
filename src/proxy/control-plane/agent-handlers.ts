/**
 * Agent messages: `register`, `health`, `drain`, custom `event`.
 *
 * Decisions worth knowing:
 * - A second `register` on the same session replaces that session's backend (the new one is added
 *   before the old one is removed with reason `superseded`, so routing never has a gap). This is how an
 *   agent changes its rules without reconnecting. Refused while draining.
 * - A `register` whose agent id and target set equal those of another live session of the same key
 *   supersedes that session (closed with 4009, its backend removed with reason `superseded`): that is an
 *   agent which reconnected while the proxy still holds its old, half-open connection. Different target
 *   sets (replicas sharing a key) coexist, up to the per-key session limit.
 * - `drain` marks the backend `draining` (no new requests), acks, waits for `whenIdle`, sends `drained`
 *   and removes the backend from the registry with reason `drained` right away; the session stays open
 *   until the agent closes it. A second `drain` is acknowledged again (idempotent).
 */
import { ProxyError, isProxyError } from '../../shared/errors.js';
import { CloseCode, type DrainMessage, type EventMessage, type HealthMessage, type RegisterMessage } from '../../shared/protocol.js';
import { ruleKey } from '../../shared/routing/route-rule.js';
import { applyState, desiredState } from './backend-state.js';
import type { ControlContext } from './control-context.js';
import { ownListenerOf } from './own-listeners.js';
import { runGatekeepers, targetSetKey, verifyRegistration, type Registration } from './registration.js';
import type { Session, SessionState } from './session.js';

/** Result of a successful `register` (the `ack` result). */
export interface RegisterResult {
  readonly backendId: string;
}

function reject(context: ControlContext, session: Session, error: unknown): never {
  if (isProxyError(error)) {
    context.counters.registrationRefused(error.code);
    context.backendRejected({ agentId: session.identity.id, code: error.code, reason: error.message });
    context.logger.warn({ agentId: session.identity.id, code: error.code, reason: error.message }, 'registration refused');
  }
  throw error;
}

/** Handles `register`. */
export async function handleRegister(context: ControlContext, session: Session, message: RegisterMessage): Promise<RegisterResult> {
  if (session.state === 'DRAINING') throw new ProxyError('RP_ERR_INVALID_MESSAGE', 'cannot register while draining; open a new session');
  let registration: Registration;
  try {
    registration = verifyRegistration(message, session.identity, session.remoteAddress, context.options.limits);
    if (!context.ruleHistory.admit(registration.agentId, registration.rules.map(ruleKey))) {
      const { maxDistinctRulesPerKey, distinctRulesWindowMs } = context.options.limits;
      throw new ProxyError(
        'RP_ERR_LIMIT_EXCEEDED',
        `key "${registration.agentId}" may register at most ${maxDistinctRulesPerKey} distinct rules within ${Math.round(distinctRulesWindowMs / 1000)} s (limits.maxDistinctRulesPerKey)`,
      );
    }
    for (const target of registration.targets) {
      const listener = await ownListenerOf(target, context.ownListeners());
      if (listener !== undefined) {
        throw new ProxyError('RP_ERR_OUT_OF_SCOPE', `target ${target.host}:${target.port} is one of the proxy's own listeners; it is never a valid target`);
      }
    }
    await runGatekeepers(context.options.gatekeepers, session.identity, registration, context.options.limits.gatekeeperTimeoutMs);
  } catch (error) {
    return reject(context, session, error);
  }
  // The key may have been revoked, the session closed, or an admin may have drained the session's
  // previous backend while the gatekeepers ran; everything below is synchronous.
  if (session.closing) throw new ProxyError('RP_ERR_DISCONNECTED', 'the session closed during registration');
  // (The cast undoes TypeScript's narrowing from the check before the await: the state may have moved.)
  if ((session.state as SessionState) === 'DRAINING') {
    throw new ProxyError('RP_ERR_INVALID_MESSAGE', 'the session started draining during registration');
  }
  let backend;
  try {
    backend = context.registry.add({
      agentId: registration.agentId,
      fingerprint: registration.fingerprint,
      targets: registration.targets,
      rules: registration.rules,
      weight: registration.weight,
      meta: registration.meta,
      affinity: registration.affinity,
      affinityHeader: registration.affinityHeader,
      bodyTimeoutMs: registration.bodyTimeoutMs,
      // An agent an admin drained, or whose last health check failed, comes back in that state.
      state: desiredState(context, session),
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return reject(context, session, new ProxyError('RP_ERR_INVALID_MESSAGE', reason, { cause: error }));
  }
  const previous = session.backendId;
  const targetKey = targetSetKey(registration.targets);
  session.markRegistered(backend.id, targetKey);
  context.sessions.linkBackend(backend.id, session);
  context.counters.registered();
  context.backendAdded(backend);
  context.logger.info(
    { agentId: registration.agentId, backendId: backend.id, rules: registration.rules, targets: registration.targets },
    'backend registered',
  );
  if (previous !== undefined) context.registry.remove(previous, 'superseded');
  for (const other of context.sessions.forKey(registration.agentId)) {
    if (other !== session && other.backendId !== undefined && other.targetKey === targetKey && !other.closing) {
      other.close(CloseCode.SUPERSEDED, 'superseded by a newer session of the same agent', 'superseded');
    }
  }
  // The ack promises that requests reach the backend: with data planes in other processes, wait until
  // every one of them has applied the change. A failure here is logged, not fatal: the change is on
  // its way and the registry stays the authority.
  if (context.whenRouted !== undefined) {
    await context.whenRouted(backend.id).catch((error: unknown) => {
      context.logger.warn({ err: error, backendId: backend.id }, 'whenRouted failed; acknowledging anyway');
    });
  }
  return { backendId: backend.id };
}

/** Handles `drain` (the ack is sent first; {@link startDrain} runs after it). */
export function handleDrain(session: Session, _message: DrainMessage): { backendId: string } {
  const backendId = session.backendId;
  if (backendId === undefined || (session.state !== 'REGISTERED' && session.state !== 'DRAINING')) {
    throw new ProxyError('RP_ERR_INVALID_MESSAGE', 'nothing to drain: the session has not registered');
  }
  return { backendId };
}

/**
 * Marks the session's backend draining and, once `whenIdle` resolves, sends `drained` and removes the
 * backend (reason `drained`). Does nothing when the session is not REGISTERED (already draining).
 */
export function startDrain(context: ControlContext, session: Session): string | undefined {
  const backendId = session.backendId;
  if (backendId === undefined || session.state !== 'REGISTERED') return undefined;
  session.markDraining();
  context.registry.setState(backendId, 'draining');
  context.logger.info({ agentId: session.identity.id, backendId }, 'draining backend');
  let idle: Promise<void>;
  try {
    idle = context.whenIdle(backendId);
  } catch (error) {
    idle = Promise.reject(error);
  }
  idle
    .catch((error: unknown) => {
      context.logger.warn({ err: error, backendId }, 'whenIdle failed; treating the backend as drained');
    })
    .then(() => {
      if (session.backendId !== backendId || session.state !== 'DRAINING') return;
      session.send({ type: 'drained' });
      context.registry.remove(backendId, 'drained');
    })
    .catch((error: unknown) => context.logger.error({ err: error, backendId }, 'drain completion failed'));
  return backendId;
}

/**
 * Handles `health`: the agent's check of its target. Unhealthy stops new requests to its backend (state
 * `unhealthy`) until a healthy report; each transition is logged. Accepted before registration too (the
 * registration then starts in the reported state).
 */
export function handleHealth(context: ControlContext, session: Session, message: HealthMessage): { state: string | undefined } {
  const changed = session.healthy !== message.healthy;
  session.healthy = message.healthy;
  applyState(context, session);
  const backendId = session.backendId;
  if (changed) {
    const log = { agentId: session.identity.id, backendId, reason: message.reason };
    if (message.healthy) context.logger.info(log, 'target healthy again: routed');
    else context.logger.warn(log, 'target unhealthy: no new requests');
  }
  return { state: backendId === undefined ? undefined : context.registry.get(backendId)?.state };
}

/** Handles a custom `event`: delivered as the control plane's `message` event. */
export function handleEvent(context: ControlContext, session: Session, message: EventMessage): void {
  context.agentEvent({ agentId: session.identity.id, name: message.name, data: message.data });
}
