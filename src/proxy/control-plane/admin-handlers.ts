/**
 * Admin messages: `keys.add`, `keys.remove`, `keys.list`, `backends.list`, `backends.drain`,
 * `backends.undrain`. Only
 * sessions of `admin` keys reach these handlers (the session refuses them from agent keys with
 * `RP_ERR_FORBIDDEN`). Every key change is written to the audit log: who, what, which fingerprint.
 *
 * An admin may not remove the key of its own session: that would cut the connection carrying the
 * request before its answer, and it guards against locking the last admin out by mistake.
 */
import { ProxyError } from '../../shared/errors.js';
import type {
  BackendsDrainMessage,
  BackendsUndrainMessage,
  KeyRole,
  KeyScope,
  KeysAddMessage,
  KeysRemoveMessage,
} from '../../shared/protocol.js';
import type { Backend } from '../registry/backend.js';
import { drainAgent, undrainAgent } from './admin-drain.js';
import type { ControlContext } from './control-context.js';
import type { Session } from './session.js';
import type { TrustedKey } from './trust-store.js';

/** A trusted key as `keys.list` and `keys.add` report it: public material only. */
export interface KeySummary {
  readonly id: string;
  readonly role: KeyRole;
  readonly scope: Readonly<KeyScope>;
  readonly fingerprint: string;
  readonly publicKey: TrustedKey['publicKey'];
  readonly createdAt: string;
  /** Live sessions of this key on this proxy. */
  readonly sessions: number;
}

function summarize(context: ControlContext, key: TrustedKey): KeySummary {
  return {
    id: key.id,
    role: key.role,
    scope: key.scope,
    fingerprint: key.fingerprint,
    publicKey: key.publicKey,
    createdAt: key.createdAt,
    sessions: context.sessions.forKey(key.id).length,
  };
}

function audit(context: ControlContext, session: Session, action: string, details: Record<string, unknown>): void {
  context.logger.info({ audit: true, actor: session.identity.id, actorFingerprint: session.identity.fingerprint, action, ...details }, `audit: ${action}`);
}

/**
 * Handles `keys.add`: validates and trusts a public key. With `replace`, an existing key of that id is
 * replaced; the trust store's `removed` event closes the old key's sessions, so an agent holding the
 * old key cannot stay connected under a grant that no longer exists.
 */
export async function handleKeysAdd(context: ControlContext, session: Session, message: KeysAddMessage): Promise<KeySummary> {
  const input: { id: string; publicKey: unknown; role?: KeyRole; scope?: KeyScope } = { id: message.keyId, publicKey: message.publicKey };
  if (message.role !== undefined) input.role = message.role;
  if (message.scope !== undefined) input.scope = message.scope;
  const replace = message.replace === true;
  if (replace && message.keyId === session.identity.id) {
    // Replacing closes the old key's sessions, this one included, before the answer could be sent.
    throw new ProxyError('RP_ERR_FORBIDDEN', 'an admin cannot replace the key of its own session; use another admin key');
  }
  const previous = replace ? context.trustStore.get(input.id) : undefined;
  const key = await context.trustStore.add(input, { replace });
  audit(context, session, 'keys.add', {
    keyId: key.id,
    role: key.role,
    fingerprint: key.fingerprint,
    scope: key.scope,
    ...(previous === undefined ? {} : { replaced: previous.fingerprint }),
  });
  return summarize(context, key);
}

/** Handles `keys.remove`: removes a key and closes its live sessions with 4003. */
export async function handleKeysRemove(context: ControlContext, session: Session, message: KeysRemoveMessage): Promise<{ keyId: string; closedSessions: number }> {
  if (message.keyId === session.identity.id) {
    throw new ProxyError('RP_ERR_FORBIDDEN', 'an admin cannot remove the key of its own session; use another admin key');
  }
  const key = context.trustStore.get(message.keyId);
  const liveBefore = context.sessions.forKey(message.keyId).filter((other) => !other.closing).length;
  const removed = await context.trustStore.remove(message.keyId);
  if (!removed) throw new ProxyError('RP_ERR_UNKNOWN_ID', `no key with id "${message.keyId.slice(0, 64)}"`);
  // The trust store's `removed` event already closed the sessions; this call is idempotent and covers a
  // store implementation that does not emit.
  context.revokeKey(message.keyId);
  audit(context, session, 'keys.remove', { keyId: message.keyId, fingerprint: key?.fingerprint, closedSessions: liveBefore });
  return { keyId: message.keyId, closedSessions: liveBefore };
}

/** Handles `keys.list`. */
export function handleKeysList(context: ControlContext): { keys: KeySummary[] } {
  return { keys: context.trustStore.list().map((key) => summarize(context, key)) };
}

/** Handles `backends.list`: every registered backend (all sources), as plain data. */
export function handleBackendsList(context: ControlContext): { backends: Backend[] } {
  return { backends: context.registry.list() };
}

/**
 * Handles `backends.drain`: stops new requests to every backend this control plane holds for an agent
 * (they stay registered, listed as draining, until `backends.undrain`). Idempotent.
 */
export function handleBackendsDrain(context: ControlContext, session: Session, message: BackendsDrainMessage): { backendIds: string[] } {
  const backendIds = drainAgent(context, message.agentId, session.identity.id);
  if (backendIds.length === 0) throw new ProxyError('RP_ERR_UNKNOWN_ID', `no registered backend for agent "${message.agentId.slice(0, 64)}"`);
  audit(context, session, 'backends.drain', { agentId: message.agentId, backendIds });
  return { backendIds };
}

/** Handles `backends.undrain`: the agent's backends take new requests again. Idempotent. */
export function handleBackendsUndrain(context: ControlContext, session: Session, message: BackendsUndrainMessage): { backendIds: string[] } {
  const backendIds = undrainAgent(context, message.agentId, session.identity.id);
  if (backendIds.length === 0) throw new ProxyError('RP_ERR_UNKNOWN_ID', `no registered backend for agent "${message.agentId.slice(0, 64)}"`);
  audit(context, session, 'backends.undrain', { agentId: message.agentId, backendIds });
  return { backendIds };
}
