/**
 * The envelope of every discovery datagram (beacon, probe challenge, probe answer): one fixed size, a
 * version and a key id in clear, everything else sealed with AES-256-GCM under the cluster's datagram key.
 *
 * ```
 * offset  size  field
 *      0     1  version (1)
 *      1     4  key id  (cluster-keys.ts)
 *      5    12  GCM nonce (random per datagram)
 *     17  1167  ciphertext of: type (1) | body length (2, big-endian) | body | zero padding
 *   1184    16  GCM tag
 *   1200        total, always
 * ```
 * Bytes 0..17 are the GCM additional data, so the clear header cannot be altered either. Padding every
 * message to the same size means a passive listener cannot tell which proxy sent a datagram, what kind it
 * is, or how long its URLs are. 1200 bytes fit in one unfragmented UDP datagram on any Ethernet or IPv6
 * path (1280-byte minimum MTU).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { ClusterKeyring } from './cluster-keyring.js';
import { KEY_ID_BYTES, type ClusterKeys } from './cluster-keys.js';
import type { RefusalReason } from './refusal-counters.js';

/** Size of every discovery datagram, in bytes. */
export const DATAGRAM_BYTES = 1200;
/** The wire version this code speaks. */
export const DATAGRAM_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES + NONCE_BYTES;
const PLAINTEXT_BYTES = DATAGRAM_BYTES - HEADER_BYTES - TAG_BYTES;
/** Largest body a datagram can carry, in bytes (the plaintext minus type and length). */
export const MAX_DATAGRAM_BODY_BYTES = PLAINTEXT_BYTES - 3;

/** What a datagram carries, sealed. */
export const DatagramType = Object.freeze({ beacon: 1, challenge: 2, answer: 3 } as const);
/** One of {@link DatagramType}'s values. */
export type DatagramType = (typeof DatagramType)[keyof typeof DatagramType];

/** An opened datagram. */
export interface OpenedDatagram {
  readonly ok: true;
  readonly type: DatagramType;
  readonly body: Buffer;
  /** The key set that opened it (the answer to a challenge is sealed with the same). */
  readonly keys: ClusterKeys;
}

/** Why a datagram was refused. */
export interface RefusedDatagram {
  readonly ok: false;
  readonly reason: RefusalReason;
}

/**
 * Seals `body` as a datagram of {@link DATAGRAM_BYTES} bytes.
 *
 * @throws {RangeError} when the body is larger than {@link MAX_DATAGRAM_BODY_BYTES} (a bug: encoders bound their fields).
 */
export function sealDatagram(keys: ClusterKeys, type: DatagramType, body: Buffer): Buffer {
  if (body.length > MAX_DATAGRAM_BODY_BYTES) throw new RangeError(`datagram body of ${body.length} bytes exceeds ${MAX_DATAGRAM_BODY_BYTES}`);
  const datagram = Buffer.alloc(DATAGRAM_BYTES);
  datagram[0] = DATAGRAM_VERSION;
  keys.keyId.copy(datagram, 1);
  const nonce = randomBytes(NONCE_BYTES);
  nonce.copy(datagram, 1 + KEY_ID_BYTES);
  const plaintext = Buffer.alloc(PLAINTEXT_BYTES);
  plaintext[0] = type;
  plaintext.writeUInt16BE(body.length, 1);
  body.copy(plaintext, 3);
  const cipher = createCipheriv('aes-256-gcm', keys.datagramKey, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(datagram.subarray(0, HEADER_BYTES));
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  sealed.copy(datagram, HEADER_BYTES);
  cipher.getAuthTag().copy(datagram, DATAGRAM_BYTES - TAG_BYTES);
  return datagram;
}

function open(keys: ClusterKeys, datagram: Buffer): Buffer | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', keys.datagramKey, datagram.subarray(1 + KEY_ID_BYTES, HEADER_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(datagram.subarray(0, HEADER_BYTES));
    decipher.setAuthTag(datagram.subarray(DATAGRAM_BYTES - TAG_BYTES));
    return Buffer.concat([decipher.update(datagram.subarray(HEADER_BYTES, DATAGRAM_BYTES - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}

/**
 * Opens a datagram with the keyring: checks size, version and key id before any cryptography (cheap
 * refusals first), then the GCM tag, then the sealed type and length. Never throws.
 */
export function openDatagram(keyring: ClusterKeyring, datagram: Buffer): OpenedDatagram | RefusedDatagram {
  if (datagram.length !== DATAGRAM_BYTES) return { ok: false, reason: 'size' };
  if (datagram[0] !== DATAGRAM_VERSION) return { ok: false, reason: 'version' };
  const candidates = keyring.find(datagram.subarray(1, 1 + KEY_ID_BYTES));
  if (candidates.length === 0) return { ok: false, reason: 'unknown_key' };
  for (const keys of candidates) {
    const plaintext = open(keys, datagram);
    if (plaintext === undefined) continue;
    const type = plaintext[0];
    const length = plaintext.readUInt16BE(1);
    if (type !== DatagramType.beacon && type !== DatagramType.challenge && type !== DatagramType.answer) return { ok: false, reason: 'malformed' };
    if (length > MAX_DATAGRAM_BODY_BYTES) return { ok: false, reason: 'malformed' };
    return { ok: true, type, body: plaintext.subarray(3, 3 + length), keys };
  }
  return { ok: false, reason: 'forged' };
}
