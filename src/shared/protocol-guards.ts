/**
 * Runtime validation of control-plane frames. A frame is untrusted network input even after the
 * connection was authenticated, so its shape is checked here and a clean copy holding only the known
 * fields is returned; nothing downstream sees the parsed JSON object itself (no prototype tricks, no
 * stray fields). Semantic checks that need context (rule syntax, key scope, per-proxy limits) happen in
 * the control plane; these guards only bound sizes so that those checks stay cheap.
 *
 * Shared by the proxy, the agent/admin clients and the tests, so both sides agree on what is valid.
 */
import {
  ADMIN_MESSAGE_TYPES,
  MAX_KEYS_PER_IMPORT,
  type ClientMessage,
  type KeyImportEntry,
  type KeyRole,
  type KeyScope,
  type KeysAddMessage,
  type RegisterMessage,
  type RuleSpec,
  type TargetSpec,
} from './protocol.js';

/** Longest request `id`, in characters. */
export const MAX_REQUEST_ID_LENGTH = 64;
/** Most targets a `register` frame may carry at all (the proxy's own limit is usually lower). */
export const MAX_FRAME_TARGETS = 256;
/** Most rules a `register` frame may carry at all (the proxy's own limit is usually lower). */
export const MAX_FRAME_RULES = 256;
/** Longest rule path or host, in characters. */
export const MAX_RULE_LENGTH = 1024;
/** Longest target host, in characters (a DNS name is at most 253). */
export const MAX_HOST_LENGTH = 253;
/** Most `meta` labels, and their key and value lengths. */
export const MAX_META_ENTRIES = 16;
export const MAX_META_KEY_LENGTH = 64;
export const MAX_META_VALUE_LENGTH = 256;
/** Longest custom event name. */
export const MAX_EVENT_NAME_LENGTH = 64;
/** Largest `bodyTimeoutMs` of a registration (Node's largest timer). */
export const MAX_BODY_TIMEOUT_MS = 2_147_483_647;
/** Longest `reason` of a `health` frame. */
export const MAX_HEALTH_REASON_LENGTH = 256;
/** A header name for hash affinity: an RFC 9110 token of at most 64 characters. */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
/** Lowest and highest `weight`. */
export const MIN_WEIGHT = 1;
export const MAX_WEIGHT = 1000;

/** Result of {@link parseClientMessage}: the clean message, or why the frame is invalid. */
export type ParseResult =
  | { readonly ok: true; readonly message: ClientMessage }
  | { readonly ok: false; readonly id?: string | undefined; readonly reason: string };

/** Printable ASCII without spaces; request ids are echoed and logged, so they stay harmless. */
const REQUEST_ID = /^[\x21-\x7e]{1,64}$/;
const EVENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const META_KEY = /^[A-Za-z0-9][A-Za-z0-9.:/-]{0,63}$/;
/** DNS name (letters, digits, hyphens, dots) or an IPv4/IPv6 literal; checked further by the scope. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$|^[0-9A-Fa-f:.]+$/;

class FrameError extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(reason: string): never {
  throw new FrameError(reason);
}

function requestId(frame: Record<string, unknown>, required: boolean): string | undefined {
  const id = frame.id;
  if (id === undefined && !required) return undefined;
  if (typeof id !== 'string' || !REQUEST_ID.test(id)) {
    fail(`id: expected a string of 1 to ${MAX_REQUEST_ID_LENGTH} printable characters`);
  }
  return id;
}

function string(frame: Record<string, unknown>, field: string, max: number): string {
  const value = frame[field];
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    fail(`${field}: expected a string of 1 to ${max} characters`);
  }
  return value;
}

/** True when `value` is a valid custom event name. */
export function isEventName(value: unknown): value is string {
  return typeof value === 'string' && EVENT_NAME.test(value);
}

/** Validates a target host: a DNS name or an IP literal (brackets around IPv6 are removed). */
export function isTargetHost(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_HOST_LENGTH && HOST.test(value);
}

function target(value: unknown, index: number): TargetSpec {
  if (!isRecord(value)) fail(`targets[${index}]: expected { host, port, protocol? }`);
  let host = value.host;
  if (typeof host === 'string' && host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (!isTargetHost(host)) fail(`targets[${index}].host: expected a host name or IP address`);
  const port = value.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    fail(`targets[${index}].port: expected an integer from 1 to 65535`);
  }
  const protocol = value.protocol ?? 'http';
  if (protocol !== 'http' && protocol !== 'https') fail(`targets[${index}].protocol: expected "http" or "https"`);
  return { host: host.toLowerCase(), port, protocol };
}

function rule(value: unknown, index: number): RuleSpec {
  if (typeof value === 'string') {
    if (value.length === 0 || value.length > MAX_RULE_LENGTH) fail(`rules[${index}]: expected 1 to ${MAX_RULE_LENGTH} characters`);
    return value;
  }
  if (!isRecord(value)) fail(`rules[${index}]: expected a path string or { path, host? }`);
  const path = value.path;
  if (typeof path !== 'string' || path.length === 0 || path.length > MAX_RULE_LENGTH) {
    fail(`rules[${index}].path: expected a string of 1 to ${MAX_RULE_LENGTH} characters`);
  }
  if (value.host === undefined) return { path };
  if (!isTargetHost(value.host)) fail(`rules[${index}].host: expected a host name`);
  return { path, host: value.host };
}

function list<T>(frame: Record<string, unknown>, field: string, max: number, item: (value: unknown, index: number) => T): T[] {
  const value = frame[field];
  if (!Array.isArray(value) || value.length === 0 || value.length > max) fail(`${field}: expected an array of 1 to ${max} entries`);
  return value.map(item);
}

function meta(value: unknown): Record<string, string> {
  if (!isRecord(value)) fail('meta: expected an object of string labels');
  const entries = Object.entries(value);
  if (entries.length > MAX_META_ENTRIES) fail(`meta: at most ${MAX_META_ENTRIES} labels`);
  for (const [key, label] of entries) {
    if (!META_KEY.test(key)) fail(`meta: label names match ${META_KEY.source}`);
    if (typeof label !== 'string' || label.length > MAX_META_VALUE_LENGTH) {
      fail(`meta.${key}: expected a string of at most ${MAX_META_VALUE_LENGTH} characters`);
    }
  }
  // fromEntries defines own data properties, so a `__proto__` key could never reach the prototype;
  // META_KEY already refuses it.
  return Object.fromEntries(entries) as Record<string, string>;
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length > 64) fail(`${field}: expected an array of at most 64 strings`);
  return value.map((item, index) => {
    if (typeof item !== 'string' || item.length === 0 || item.length > MAX_RULE_LENGTH) fail(`${field}[${index}]: expected a non-empty string`);
    return item;
  });
}

function scope(value: unknown): KeyScope {
  if (!isRecord(value)) fail('scope: expected { rules?, hosts?, anyHost? }');
  const out: KeyScope = {};
  if (value.rules !== undefined) out.rules = stringList(value.rules, 'scope.rules');
  if (value.hosts !== undefined) out.hosts = stringList(value.hosts, 'scope.hosts');
  if (value.anyHost !== undefined) {
    if (typeof value.anyHost !== 'boolean') fail('scope.anyHost: expected a boolean');
    out.anyHost = value.anyHost;
  }
  return out;
}

function role(value: unknown): KeyRole {
  if (value !== 'agent' && value !== 'admin') fail('role: expected "agent" or "admin"');
  return value;
}

/** The key fields shared by `keys.add` and each `keys.import` entry; `prefix` names the entry in errors. */
function keyEntry(frame: Record<string, unknown>, prefix = ''): KeyImportEntry {
  try {
    const entry: KeyImportEntry = {
      keyId: string(frame, 'keyId', 64),
      publicKey: isRecord(frame.publicKey) ? { ...frame.publicKey } : fail('publicKey: expected a JWK object'),
    };
    if (frame.role !== undefined) entry.role = role(frame.role);
    if (frame.scope !== undefined) entry.scope = scope(frame.scope);
    if (frame.replace !== undefined) {
      if (typeof frame.replace !== 'boolean') fail('replace: expected a boolean');
      entry.replace = frame.replace;
    }
    return entry;
  } catch (error) {
    if (prefix !== '' && error instanceof FrameError) fail(`${prefix}${error.message}`);
    throw error;
  }
}

function importEntry(value: unknown, index: number): KeyImportEntry {
  if (!isRecord(value)) fail(`keys[${index}]: expected { keyId, publicKey, role?, scope?, replace? }`);
  return keyEntry(value, `keys[${index}].`);
}

function parseFrame(frame: Record<string, unknown>): ClientMessage {
  const type = frame.type;
  switch (type) {
    case 'register': {
      const id = requestId(frame, true) as string;
      const message: RegisterMessage = {
        type: 'register',
        id,
        targets: list(frame, 'targets', MAX_FRAME_TARGETS, target),
        rules: list(frame, 'rules', MAX_FRAME_RULES, rule),
      };
      if (frame.weight !== undefined) {
        const weight = frame.weight;
        if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < MIN_WEIGHT || weight > MAX_WEIGHT) {
          fail(`weight: expected an integer from ${MIN_WEIGHT} to ${MAX_WEIGHT}`);
        }
        message.weight = weight;
      }
      if (frame.meta !== undefined) message.meta = meta(frame.meta);
      if (frame.affinity !== undefined) {
        if (frame.affinity !== 'cookie' && frame.affinity !== 'hash') fail('affinity: expected "cookie" or "hash"');
        message.affinity = frame.affinity;
      }
      if (frame.affinityHeader !== undefined) {
        if (typeof frame.affinityHeader !== 'string' || !HEADER_NAME.test(frame.affinityHeader)) fail('affinityHeader: expected a header name of 1 to 64 token characters');
        if (message.affinity !== 'hash') fail('affinityHeader: only with affinity "hash"');
        message.affinityHeader = frame.affinityHeader.toLowerCase();
      }
      if (frame.bodyTimeoutMs !== undefined) {
        const timeout = frame.bodyTimeoutMs;
        if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 0 || timeout > MAX_BODY_TIMEOUT_MS) {
          fail(`bodyTimeoutMs: expected an integer from 0 to ${MAX_BODY_TIMEOUT_MS}`);
        }
        message.bodyTimeoutMs = timeout;
      }
      return message;
    }
    case 'health': {
      const id = requestId(frame, true) as string;
      if (typeof frame.healthy !== 'boolean') fail('healthy: expected a boolean');
      if (frame.reason === undefined) return { type: 'health', id, healthy: frame.healthy };
      if (typeof frame.reason !== 'string' || frame.reason.length > MAX_HEALTH_REASON_LENGTH) fail(`reason: expected a string of at most ${MAX_HEALTH_REASON_LENGTH} characters`);
      return { type: 'health', id, healthy: frame.healthy, reason: frame.reason };
    }
    case 'drain':
    case 'keys.list':
    case 'backends.list':
    case 'fleet.list':
      return { type, id: requestId(frame, true) as string } as ClientMessage;
    case 'event': {
      const id = requestId(frame, false);
      const name = frame.name;
      if (typeof name !== 'string' || !EVENT_NAME.test(name)) fail(`name: expected an event name matching ${EVENT_NAME.source}`);
      return id === undefined ? { type: 'event', name, data: frame.data } : { type: 'event', id, name, data: frame.data };
    }
    case 'keys.add':
      return { type: 'keys.add', id: requestId(frame, true) as string, ...keyEntry(frame) } satisfies KeysAddMessage;
    case 'keys.import':
      return { type: 'keys.import', id: requestId(frame, true) as string, keys: list(frame, 'keys', MAX_KEYS_PER_IMPORT, importEntry) };
    case 'keys.remove':
      return { type: 'keys.remove', id: requestId(frame, true) as string, keyId: string(frame, 'keyId', 64) };
    case 'backends.drain':
    case 'backends.undrain':
      return { type, id: requestId(frame, true) as string, agentId: string(frame, 'agentId', 64) };
    default:
      return fail(`type: unknown message type ${JSON.stringify(String(type).slice(0, 40))}`);
  }
}

/**
 * Parses one text frame into a clean {@link ClientMessage}. Never throws: an invalid frame yields
 * `{ ok: false, reason, id? }` where `id` is the frame's request id when one could be read, so the
 * error reply can echo it.
 */
export function parseClientMessage(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'frame is not valid JSON' };
  }
  if (!isRecord(value)) return { ok: false, reason: 'frame must be a JSON object with a "type"' };
  const id = typeof value.id === 'string' && REQUEST_ID.test(value.id) ? value.id : undefined;
  try {
    return { ok: true, message: parseFrame(value) };
  } catch (error) {
    if (error instanceof FrameError) return { ok: false, id, reason: error.message };
    return { ok: false, id, reason: 'frame could not be parsed' };
  }
}

/** True when the message type may only be sent by an admin key. */
export function isAdminMessage(message: ClientMessage): boolean {
  return ADMIN_MESSAGE_TYPES.has(message.type);
}

/** Runtime guard for frames the proxy sends (used by clients and tests). */
export function isServerMessage(value: unknown): value is { type: 'ack' | 'error' | 'drained' | 'event'; [key: string]: unknown } {
  return isRecord(value) && (value.type === 'ack' || value.type === 'error' || value.type === 'drained' || value.type === 'event');
}
