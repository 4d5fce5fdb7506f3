/**
 * `x-request-id`: a client-supplied id is kept when it is 1 to 128 characters of `[A-Za-z0-9._-]`, so a
 * trace crosses the proxy; anything else is replaced. Generated ids are a random per-process prefix and a
 * counter: unique enough to correlate logs, and far cheaper than a UUID per request.
 */
import { randomBytes } from 'node:crypto';

/** Longest request id kept from a client. */
export const MAX_REQUEST_ID_LENGTH = 128;

const ALLOWED = new Uint8Array(128);
for (let code = 0; code < 128; code += 1) {
  ALLOWED[code] = /[A-Za-z0-9._-]/.test(String.fromCharCode(code)) ? 1 : 0;
}

/** True when a client-supplied request id may be forwarded as is. */
export function isValidRequestId(value: string): boolean {
  const length = value.length;
  if (length === 0 || length > MAX_REQUEST_ID_LENGTH) return false;
  for (let index = 0; index < length; index += 1) {
    const code = value.charCodeAt(index);
    if (code >= 128 || ALLOWED[code] === 0) return false;
  }
  return true;
}

const PREFIX = `${randomBytes(6).toString('base64url')}-`;
let counter = 0;

/** A new request id, unique within this process and unlikely to collide across processes. */
export function generateRequestId(): string {
  counter = counter === Number.MAX_SAFE_INTEGER ? 1 : counter + 1;
  return PREFIX + counter.toString(36);
}
