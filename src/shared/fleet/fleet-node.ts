/**
 * What a proxy announces about itself to its fleet (legiond's node): id, the URLs it serves, the pin of
 * its control-plane certificate and when it started. Announcements come back from Redis, which is
 * shared, so they are parsed as untrusted input: an invalid one is ignored and counted, never listed.
 */
import { normalizePin } from '../control-client/proxy-tls.js';
import { isValidAgentId } from '../identity/agent-id.js';

/** Most addresses one node announces. */
export const MAX_NODE_ADDRESSES = 16;
/** Longest announced address, in characters. */
export const MAX_NODE_ADDRESS_LENGTH = 256;
/** Largest announcement read, in bytes. */
export const MAX_NODE_ANNOUNCEMENT_BYTES = 8192;

const SCHEMES: ReadonlySet<string> = new Set(['ws:', 'wss:', 'http:', 'https:']);

/** One proxy of the fleet. Frozen. */
export interface FleetNode {
  /** The proxy's node id (same pattern as key ids). */
  readonly id: string;
  /** URLs it serves: control plane (`wss://`), data plane (`http://`, `https://`), admin. */
  readonly addresses: readonly string[];
  /** SHA-256 pin (base64) of its control-plane certificate's public key, when it has one. */
  readonly pin?: string;
  /** ISO 8601 time the proxy started. */
  readonly startedAt: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when `value` is an announceable address: a ws/wss/http/https URL with a host. */
export function isNodeAddress(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NODE_ADDRESS_LENGTH) return false;
  try {
    const url = new URL(value);
    return SCHEMES.has(url.protocol) && url.hostname !== '' && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

/**
 * Validates a node (from options or from Redis) and returns a frozen copy, or a string saying what is
 * wrong.
 */
export function parseFleetNode(value: unknown): FleetNode | string {
  if (!isRecord(value)) return 'not an object';
  if (!isValidAgentId(value.id)) return 'id is not a valid id';
  if (!Array.isArray(value.addresses) || value.addresses.length > MAX_NODE_ADDRESSES || !value.addresses.every(isNodeAddress)) {
    return `addresses: expected at most ${MAX_NODE_ADDRESSES} ws/wss/http/https URLs`;
  }
  let pin: string | undefined;
  if (value.pin !== undefined) {
    pin = normalizePin(value.pin);
    if (pin === undefined) return 'pin is not a base64 SHA-256';
  }
  if (typeof value.startedAt !== 'string' || Number.isNaN(Date.parse(value.startedAt))) return 'startedAt is not an ISO date';
  const node: FleetNode = { id: value.id, addresses: Object.freeze([...value.addresses] as string[]), startedAt: value.startedAt, ...(pin === undefined ? {} : { pin }) };
  return Object.freeze(node);
}

/** Parses an announcement's JSON; a string says what is wrong. */
export function parseFleetNodeJson(text: unknown): FleetNode | string {
  if (typeof text !== 'string' || text.length > MAX_NODE_ANNOUNCEMENT_BYTES) return 'not a string of at most 8 KiB';
  try {
    return parseFleetNode(JSON.parse(text));
  } catch {
    return 'not JSON';
  }
}

/** Orders nodes by id. */
export function byNodeId(a: FleetNode, b: FleetNode): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** True when two announcements say the same thing. */
export function sameNode(a: FleetNode, b: FleetNode): boolean {
  return a.startedAt === b.startedAt && a.pin === b.pin && a.addresses.join(' ') === b.addresses.join(' ');
}
