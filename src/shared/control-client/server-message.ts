/**
 * Runtime guards for the frames the proxy sends to a client (agent or admin). The proxy is authenticated
 * by TLS, but a frame is still parsed defensively: a buggy or newer proxy must not crash the client's process.
 */
import { ERROR_CATALOG, type ErrorCode } from '../errors.js';
import type { ServerMessage } from '../protocol.js';

/** Longest request id the agent accepts in a reply. */
const MAX_ID_LENGTH = 64;
/** Longest error message kept (a longer one is truncated, not refused). */
export const MAX_ERROR_MESSAGE_LENGTH = 1024;
/** Custom event names, as the proxy validates them. */
export const EVENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const REQUEST_ID = /^[\x21-\x7e]{1,64}$/;

/** Result of {@link parseServerMessage}. */
export type ServerParseResult = { readonly ok: true; readonly message: ServerMessage } | { readonly ok: false; readonly reason: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOG, value);
}

/**
 * Parses one text frame from the proxy. Never throws. Unknown fields are dropped. An `error` whose code
 * this agent does not know (a newer proxy) keeps its text and gets `RP_ERR_REJECTED`, so the caller
 * still sees a refusal.
 */
export function parseServerMessage(text: string): ServerParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'frame is not valid JSON' };
  }
  if (!isRecord(value)) return { ok: false, reason: 'frame must be a JSON object' };
  const id = value.id;
  if (id !== undefined && (typeof id !== 'string' || id.length > MAX_ID_LENGTH || !REQUEST_ID.test(id))) {
    return { ok: false, reason: 'id: expected a string of 1 to 64 printable characters' };
  }
  switch (value.type) {
    case 'ack':
      if (id === undefined) return { ok: false, reason: 'ack: id is required' };
      return { ok: true, message: value.result === undefined ? { type: 'ack', id } : { type: 'ack', id, result: value.result } };
    case 'error': {
      if (typeof value.code !== 'string' || value.code.length === 0 || value.code.length > 64) {
        return { ok: false, reason: 'error: code must be a string' };
      }
      const rawMessage = typeof value.message === 'string' ? value.message.slice(0, MAX_ERROR_MESSAGE_LENGTH) : '';
      const known = isErrorCode(value.code);
      const message = known ? rawMessage : `${value.code}: ${rawMessage}`;
      const code: ErrorCode = known ? (value.code as ErrorCode) : 'RP_ERR_REJECTED';
      return { ok: true, message: id === undefined ? { type: 'error', code, message } : { type: 'error', id, code, message } };
    }
    case 'drained':
      return { ok: true, message: { type: 'drained' } };
    case 'event': {
      if (typeof value.name !== 'string' || !EVENT_NAME_PATTERN.test(value.name)) {
        return { ok: false, reason: 'event: name must match ' + EVENT_NAME_PATTERN.source };
      }
      const event: ServerMessage = { type: 'event', name: value.name, data: value.data };
      if (id !== undefined) event.id = id;
      return { ok: true, message: event };
    }
    default:
      return { ok: false, reason: `type: unknown message type ${JSON.stringify(String(value.type)).slice(0, 40)}` };
  }
}
