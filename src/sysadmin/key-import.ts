/**
 * Bulk key provisioning on the client side: each key is checked locally (id, public key, role, scope)
 * so a bad entry is reported without a round trip, the good ones are packed into `keys.import` frames
 * (at most {@link MAX_KEYS_PER_IMPORT} keys and {@link MAX_IMPORT_FRAME_BYTES} each), and the proxy's
 * per-key answers are validated like any other answer.
 */
import { ControlError, ERROR_CATALOG, type ErrorCode } from '../shared/errors.js';
import { assertValidAgentId } from '../shared/identity/agent-id.js';
import { MAX_KEYS_PER_IMPORT, type KeyImportEntry, type KeyRole, type KeyScope } from '../shared/protocol.js';
import { MAX_OUTGOING_FRAME_BYTES } from '../shared/control-client/control-connection.js';
import { asControlError } from './control-error.js';
import { loadPublicKey, type PublicKeySource } from './public-key-source.js';
import { firstUnregistrableRule } from './scope-rules.js';

export { MAX_KEYS_PER_IMPORT } from '../shared/protocol.js';

/** Bytes of key entries one frame carries at most; the rest of the 64 KiB is left for the envelope. */
export const MAX_IMPORT_FRAME_BYTES = MAX_OUTGOING_FRAME_BYTES - 1024;

/** One key to import: the fields of an import file line. */
export interface KeyImportInput {
  /** Key id. */
  id: string;
  /** Ed25519 public JWK, or the path of a JWK or SPKI PEM file. */
  publicKey: PublicKeySource;
  /** `agent` (default) or `admin`. */
  role?: KeyRole;
  /** Path prefixes (or `host/path`) the key may register. */
  rules?: string[];
  /** Hosts or CIDRs its targets may point to (default: the agent's own address). */
  hosts?: string[];
  /** Replace an existing key with this id. Default false. */
  replace?: boolean;
}

/** The outcome for one key, in input order. */
export type KeyImportResult =
  | { readonly id: string; readonly status: 'added'; readonly fingerprint: string; readonly role: KeyRole }
  | { readonly id: string; readonly status: 'refused'; readonly code: ErrorCode; readonly message: string };

function strings(name: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item.length === 0)) {
    throw new ControlError('RP_ERR_INVALID_OPTION', `${name}: expected an array of non-empty strings`);
  }
  return [...(value as string[])];
}

/**
 * Checks one input and turns it into a `keys.import` entry.
 *
 * @throws {ControlError} `RP_ERR_INVALID_ID`, `RP_ERR_INVALID_KEY` or `RP_ERR_INVALID_OPTION`.
 */
export async function prepareImportEntry(input: KeyImportInput): Promise<KeyImportEntry> {
  try {
    if (typeof input !== 'object' || input === null) throw new ControlError('RP_ERR_INVALID_OPTION', 'expected { id, publicKey, role?, rules?, hosts? }');
    const keyId = assertValidAgentId(input.id);
    const publicKey = { ...(await loadPublicKey(input.publicKey)) };
    const role = input.role;
    if (role !== undefined && role !== 'agent' && role !== 'admin') throw new ControlError('RP_ERR_INVALID_OPTION', 'role: expected "agent" or "admin"');
    if (input.replace !== undefined && typeof input.replace !== 'boolean') throw new ControlError('RP_ERR_INVALID_OPTION', 'replace: expected a boolean');
    const rules = strings('rules', input.rules);
    const hosts = strings('hosts', input.hosts);
    const unregistrable = firstUnregistrableRule(rules ?? []);
    if (unregistrable !== undefined) throw new ControlError('RP_ERR_INVALID_OPTION', `rules: ${unregistrable.reason}`);
    const scope: KeyScope = {};
    if (rules !== undefined) scope.rules = rules;
    if (hosts !== undefined) scope.hosts = hosts;
    return {
      keyId,
      publicKey,
      ...(role === undefined ? {} : { role }),
      ...(rules === undefined && hosts === undefined ? {} : { scope }),
      ...(input.replace === true ? { replace: true } : {}),
    };
  } catch (error) {
    throw asControlError(error);
  }
}

/** Splits entries into frames of at most {@link MAX_KEYS_PER_IMPORT} keys and {@link MAX_IMPORT_FRAME_BYTES}. */
export function importBatches<T extends KeyImportEntry>(entries: readonly T[]): T[][] {
  const batches: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = Buffer.byteLength(JSON.stringify(entry)) + 1;
    if (batch.length > 0 && (batch.length >= MAX_KEYS_PER_IMPORT || bytes + size > MAX_IMPORT_FRAME_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(entry);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

function invalid(reason: string): never {
  throw new ControlError('RP_ERR_INVALID_MESSAGE', `the proxy sent an unexpected keys.import answer: ${reason}`);
}

/**
 * Validates the proxy's answer to one batch: one outcome per key sent, in order.
 *
 * @throws {ControlError} `RP_ERR_INVALID_MESSAGE` when it is not that.
 */
export function parseKeyImportAnswer(value: unknown, batch: readonly KeyImportEntry[]): KeyImportResult[] {
  const results = typeof value === 'object' && value !== null ? (value as { results?: unknown }).results : undefined;
  if (!Array.isArray(results) || results.length !== batch.length) invalid('expected one result per key');
  return results.map((result: unknown, index) => {
    const sent = (batch[index] as KeyImportEntry).keyId;
    if (typeof result !== 'object' || result === null) invalid(`results[${index}] is not an object`);
    const { keyId, status, fingerprint, role, code, message } = result as Record<string, unknown>;
    if (keyId !== sent) invalid(`results[${index}] names another key`);
    if (status === 'added' && typeof fingerprint === 'string' && (role === 'agent' || role === 'admin')) {
      return Object.freeze({ id: sent, status, fingerprint, role });
    }
    if (status === 'refused' && typeof code === 'string') {
      const known = Object.hasOwn(ERROR_CATALOG, code);
      const text = typeof message === 'string' ? message.slice(0, 1024) : '';
      return Object.freeze({ id: sent, status, code: known ? (code as ErrorCode) : 'RP_ERR_REJECTED', message: known ? text : `${code}: ${text}` });
    }
    return invalid(`results[${index}] has no valid status`);
  });
}
