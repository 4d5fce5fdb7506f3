/**
 * The body of a beacon (and the core of a probe answer): an announcement plus what makes it fresh and
 * ordered. Binary and canonical, so the probe MAC covers exactly the bytes sent.
 *
 * ```
 * size   field
 *    1   proxy id length n (1..64)
 *    n   proxy id (ASCII)
 *    8   boot epoch: random per sender start, so a restart (counter back to 0) is not taken for a replay
 *    8   counter, big-endian, +1 per message sent in this epoch
 *    8   issued at, ms since 1970, big-endian
 *    8   expires at, ms since 1970, big-endian (a few beacon intervals after issued at)
 *   32   pin: SHA-256 of the proxy's TLS SubjectPublicKeyInfo
 *    1   URL count k (1..4)
 *  k × ( 1 URL length m (1..200) | m URL bytes, UTF-8 )
 * ```
 */
import { toAnnouncement, type Announcement } from './announcement.js';
import { ByteReader, ShortBodyError, u64 } from './byte-reader.js';

/** Length of a boot epoch, in bytes. */
export const EPOCH_BYTES = 8;
/** Longest lifetime (expiresAt - issuedAt) a receiver accepts, in ms: 10 minutes. */
export const MAX_BEACON_LIFETIME_MS = 600_000;

/** A decoded beacon. */
export interface BeaconMessage {
  readonly announcement: Announcement;
  /** Boot epoch, 16 hex characters. */
  readonly epoch: string;
  /** Per-epoch counter. */
  readonly counter: number;
  /** Issue time, ms since 1970. */
  readonly issuedAt: number;
  /** Expiry, ms since 1970. */
  readonly expiresAt: number;
}

/** Encodes a beacon body. The announcement must be valid (announcement.ts). */
export function encodeBeacon(message: BeaconMessage): Buffer {
  const { announcement } = message;
  const parts: Buffer[] = [
    Buffer.from([announcement.proxyId.length]),
    Buffer.from(announcement.proxyId, 'ascii'),
    Buffer.from(message.epoch, 'hex'),
    u64(message.counter),
    u64(message.issuedAt),
    u64(message.expiresAt),
    Buffer.from(announcement.pin, 'base64'),
    Buffer.from([announcement.controlUrls.length]),
  ];
  for (const url of announcement.controlUrls) {
    const bytes = Buffer.from(url, 'utf8');
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  return Buffer.concat(parts);
}

/** Reads a beacon body from `reader`; undefined when it is malformed. Consumes exactly the beacon. */
export function readBeacon(reader: ByteReader): BeaconMessage | undefined {
  try {
    const proxyId = reader.bytes(reader.u8()).toString('ascii');
    const epoch = reader.bytes(EPOCH_BYTES).toString('hex');
    const counter = reader.u64();
    const issuedAt = reader.u64();
    const expiresAt = reader.u64();
    const pin = reader.bytes(32).toString('base64');
    const count = reader.u8();
    const controlUrls: string[] = [];
    for (let i = 0; i < count; i += 1) controlUrls.push(reader.bytes(reader.u8()).toString('utf8'));
    const announcement = toAnnouncement({ proxyId, controlUrls, pin });
    if (announcement === undefined) return undefined;
    // A canonical URL must come back byte for byte: anything else was not written by encodeBeacon.
    if (announcement.controlUrls.some((url, i) => url !== controlUrls[i])) return undefined;
    if (expiresAt <= issuedAt || expiresAt - issuedAt > MAX_BEACON_LIFETIME_MS) return undefined;
    return Object.freeze({ announcement, epoch, counter, issuedAt, expiresAt });
  } catch (error) {
    if (error instanceof ShortBodyError) return undefined;
    throw error;
  }
}

/** Decodes a whole beacon body; undefined when malformed or followed by extra bytes. */
export function decodeBeacon(body: Buffer): BeaconMessage | undefined {
  const reader = new ByteReader(body);
  const beacon = readBeacon(reader);
  return beacon !== undefined && reader.remaining === 0 ? beacon : undefined;
}
