/**
 * Admin messages: `keys.add`, `keys.import`, `keys.remove`, `keys.list`, `backends.list`,
 * `backends.drain`, `backends.undrain`. Only
 * sessions of `admin` keys reach these handlers (the session refuses them from agent keys with
 * `RP_ERR_FORBIDDEN`). Every key change is written to the audit log: who, what, which fingerprint.
 *
 * An admin may not remove the key of its own session: that would cut the connection carrying the
 * request before its answer, and it guards against locking the last admin out by mistake.
 */
import { ProxyError, isProxyError, type ErrorCode } from '../../shared/errors.js';
import type {
  BackendsDrainMessage,
  BackendsUndrainMessage,
  KeyRole,
  KeyScope,
  KeysAddMessage,
  KeysImportMessage,
  KeysRemoveMessage,
  KeyImportEntry,
} from '../../shared/protocol.js';
import type { Backend } from '../registry/backend.js';
import { drainAgent, undrainAgent } from './admin-drain.js';
import type { ControlContext } from './control-context.js';
import type { Session } from './session.js';
import type { AddKeyInput, TrustedKey } from '../../shared/trust/trusted-key.js';

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
  const replace = message.replace === true;
  checkOwnKey(session, message);
  const previous = replace ? context.trustStore.get(message.keyId) : undefined;
  const key = await context.trustStore.add(addInput(message), { replace });
  auditAdded(context, session, key, previous);
  return summarize(context, key);
}

function addInput(entry: KeyImportEntry): AddKeyInput {
  const input: AddKeyInput = { id: entry.keyId, publicKey: entry.publicKey };
  if (entry.role !== undefined) input.role = entry.role;
  if (entry.scope !== undefined) input.scope = entry.scope;
  return input;
}

function checkOwnKey(session: Session, entry: KeyImportEntry): void {
  if (entry.replace === true && entry.keyId === session.identity.id) {
    // Replacing closes the old key's sessions, this one included, before the answer could be sent.
    throw new ProxyError('RP_ERR_FORBIDDEN', 'an admin cannot replace the key of its own session; use another admin key');
  }
}

function auditAdded(context: ControlContext, session: Session, key: TrustedKey, previous: TrustedKey | undefined): void {
  audit(context, session, 'keys.add', {
    keyId: key.id,
    role: key.role,
    fingerprint: key.fingerprint,
    scope: key.scope,
    ...(previous === undefined ? {} : { replaced: previous.fingerprint }),
  });
}

/** The answer for one key of a `keys.import`. */
export type KeyImportOutcome =
  | { readonly keyId: string; readonly status: 'added'; readonly fingerprint: string; readonly role: KeyRole }
  | { readonly keyId: string; readonly status: 'refused'; readonly code: ErrorCode; readonly message: string };

/**
 * Handles `keys.import`: each key is validated, checked and audited exactly as `keys.add` would do it,
 * and the accepted ones are stored in one batch. The answer is per key, in order; one bad key is refused
 * with its code and does not stop the others. The frame itself fails only when it is malformed, or when
 * the store cannot be written (then nothing of the batch was applied).
 */
export async function handleKeysImport(context: ControlContext, session: Session, message: KeysImportMessage): Promise<{ results: KeyImportOutcome[]; added: number; refused: number }> {
  const results: Array<KeyImportOutcome | undefined> = message.keys.map(() => undefined);
  const refuse = (index: number, entry: KeyImportEntry, error: ProxyError): void => {
    audit(context, session, 'keys.import.refused', { keyId: entry.keyId.slice(0, 64), code: error.code, reason: error.message });
    results[index] = { keyId: entry.keyId, status: 'refused', code: error.code, message: error.message };
  };
  const accepted: Array<{ index: number; entry: KeyImportEntry; previous: TrustedKey | undefined }> = [];
  message.keys.forEach((entry, index) => {
    try {
      checkOwnKey(session, entry);
      accepted.push({ index, entry, previous: entry.replace === true ? context.trustStore.get(entry.keyId) : undefined });
    } catch (error) {
      if (!isProxyError(error)) throw error;
      refuse(index, entry, error);
    }
  });
  // A batch is one read-modify-write (`addMany`); a custom store without it gets one `add` per key,
  // which for a file store would mean one rewrite per key.
  const stored: Array<TrustedKey | ProxyError> = context.trustStore.addMany !== undefined
    ? await context.trustStore.addMany(accepted.map(({ entry }) => ({ input: addInput(entry), replace: entry.replace === true })))
    : await addOneByOne(context, accepted.map(({ entry }) => entry));
  stored.forEach((outcome, position) => {
    const { index, entry, previous } = accepted[position]!;
    if (outcome instanceof ProxyError) {
      refuse(index, entry, outcome);
      return;
    }
    auditAdded(context, session, outcome, previous);
    results[index] = { keyId: outcome.id, status: 'added', fingerprint: outcome.fingerprint, role: outcome.role };
  });
  const all = results as KeyImportOutcome[];
  const added = all.filter((result) => result.status === 'added').length;
  return { results: all, added, refused: all.length - added };
}

async function addOneByOne(context: ControlContext, entries: readonly KeyImportEntry[]): Promise<Array<TrustedKey | ProxyError>> {
  const outcomes: Array<TrustedKey | ProxyError> = [];
  for (const entry of entries) {
    try {
      outcomes.push(await context.trustStore.add(addInput(entry), { replace: entry.replace === true }));
    } catch (error) {
      if (!isProxyError(error)) throw error;
      outcomes.push(error);
    }
  }
  return outcomes;
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
