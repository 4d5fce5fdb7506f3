/**
 * Recognises the events the proxy sends an agent when an admin drains or undrains it
 * (`inteli-sysadmin backends drain|undrain`), so the agent logs why its traffic stopped or resumed
 * instead of idling without a word.
 */
import { ADMIN_DRAIN_EVENT, ADMIN_UNDRAIN_EVENT } from '../shared/protocol.js';

/** What the agent learns from such an event. */
export interface AdminDrainInfo {
  /** True when drained, false when undrained. */
  readonly drained: boolean;
  /** The admin key id that asked (or `api` for `ControlPlane.drainAgent`). */
  readonly by: string;
  /** The agent's registrations concerned. */
  readonly backendIds: readonly string[];
}

/** The drain info of an event, or undefined when it is another event. Never throws on odd data. */
export function adminDrainInfo(name: string, data: unknown): AdminDrainInfo | undefined {
  if (name !== ADMIN_DRAIN_EVENT && name !== ADMIN_UNDRAIN_EVENT) return undefined;
  const record = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  const by = typeof record.by === 'string' ? record.by.slice(0, 64) : 'unknown';
  const ids = Array.isArray(record.backendIds) ? record.backendIds.filter((id): id is string => typeof id === 'string').slice(0, 64) : [];
  return Object.freeze({ drained: name === ADMIN_DRAIN_EVENT, by, backendIds: Object.freeze(ids) });
}
