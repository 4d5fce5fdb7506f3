/**
 * What a proxy announces: its id, the control-plane URLs an agent may dial, and the pin of its TLS key.
 * An announcement is a hint, never a credential: an agent still authenticates the proxy on the TLS
 * connection (by a configured pin/CA, or by the cluster channel proof) before it sends anything.
 */
import { InvalidOptionError } from '../errors.js';
import { isValidAgentId } from '../identity/agent-id.js';
import { normalizePin } from '../control-client/proxy-tls.js';

/** Most control URLs one announcement carries. */
export const MAX_ANNOUNCED_URLS = 4;
/** Longest control URL, in bytes (keeps every message inside one fixed-size datagram). */
export const MAX_ANNOUNCED_URL_BYTES = 200;

/** A proxy's announcement. */
export interface Announcement {
  /** The proxy's id (same pattern as key ids). */
  readonly proxyId: string;
  /** Control-plane URLs, `wss://host:port`, 1 to 4 of at most 200 bytes. */
  readonly controlUrls: readonly string[];
  /** Base64 SHA-256 pin of the proxy's TLS public key (as the proxy prints it). */
  readonly pin: string;
}

/** Returns the canonical form of `value` when it is a control URL an announcement may carry. */
export function announcedUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || Buffer.byteLength(value) > MAX_ANNOUNCED_URL_BYTES) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  // Only TLS: the agent authenticates the proxy on the TLS channel. No credentials, query or fragment.
  if (url.protocol !== 'wss:' || url.hostname === '' || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return undefined;
  const canonical = url.href;
  return Buffer.byteLength(canonical) <= MAX_ANNOUNCED_URL_BYTES ? canonical : undefined;
}

/** Returns a frozen, canonical copy of `value` when it is a valid announcement, else undefined. */
export function toAnnouncement(value: unknown): Announcement | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { proxyId, controlUrls, pin } = value as Record<string, unknown>;
  if (!isValidAgentId(proxyId)) return undefined;
  if (!Array.isArray(controlUrls) || controlUrls.length === 0 || controlUrls.length > MAX_ANNOUNCED_URLS) return undefined;
  const urls = controlUrls.map(announcedUrl);
  if (urls.some((url) => url === undefined)) return undefined;
  const normalizedPin = normalizePin(pin);
  if (normalizedPin === undefined) return undefined;
  return Object.freeze({ proxyId, controlUrls: Object.freeze(urls as string[]), pin: normalizedPin });
}

/**
 * Validates an announcement given as an option.
 *
 * @throws {InvalidOptionError} naming the option and what it accepts.
 */
export function resolveAnnouncement(value: unknown, name = 'announcement'): Announcement {
  const announcement = toAnnouncement(value);
  if (announcement === undefined) {
    throw new InvalidOptionError(
      `${name}: expected { proxyId: an id, controlUrls: 1 to ${MAX_ANNOUNCED_URLS} wss:// URLs of at most ${MAX_ANNOUNCED_URL_BYTES} bytes ` +
        'without credentials, query or fragment, pin: a base64 SHA-256 public-key pin }',
    );
  }
  return announcement;
}

/** True when two announcements say the same thing. */
export function sameAnnouncement(a: Announcement, b: Announcement): boolean {
  return a.proxyId === b.proxyId && a.pin === b.pin && a.controlUrls.length === b.controlUrls.length && a.controlUrls.every((url, i) => url === b.controlUrls[i]);
}
