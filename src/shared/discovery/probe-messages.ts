/**
 * The two probe messages (both travel inside a sealed datagram, sealed-datagram.ts) and the MAC of an
 * answer.
 *
 * ```
 * challenge body:  32 nonce (random) | 8 issued at (ms since 1970, big-endian)
 * answer body:     32 challenge nonce | 2 beacon length n | n beacon body (beacon-message.ts) | 32 MAC
 * MAC = HMAC-SHA-256(probe key, "inteli-proxy probe answer v1" | 0x00 | challenge nonce | n | beacon body)
 * ```
 * The MAC covers the challenge and every byte the proxy announces (id, URLs with their ports, pin, epoch,
 * counter, times), under a key of its own (cluster-keys.ts). wherez's MAC did not cover the port it
 * announced; here changing any announced byte fails the MAC, on top of the datagram's AEAD tag.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ByteReader, ShortBodyError, u64 } from './byte-reader.js';
import { encodeBeacon, readBeacon, type BeaconMessage } from './beacon-message.js';

/** Length of a challenge nonce, in bytes. */
export const CHALLENGE_NONCE_BYTES = 32;
const MAC_BYTES = 32;
const MAC_LABEL = Buffer.from('inteli-proxy probe answer v1\0', 'ascii');

/** A decoded challenge. */
export interface ChallengeMessage {
  readonly nonce: Buffer;
  readonly issuedAt: number;
}

/** A decoded answer whose MAC verified. */
export interface AnswerMessage {
  readonly challengeNonce: Buffer;
  readonly beacon: BeaconMessage;
}

/** Encodes a challenge body. */
export function encodeChallenge(challenge: ChallengeMessage): Buffer {
  return Buffer.concat([challenge.nonce, u64(challenge.issuedAt)]);
}

/** Decodes a challenge body; undefined when malformed. */
export function decodeChallenge(body: Buffer): ChallengeMessage | undefined {
  if (body.length !== CHALLENGE_NONCE_BYTES + 8) return undefined;
  const reader = new ByteReader(body);
  try {
    return Object.freeze({ nonce: reader.bytes(CHALLENGE_NONCE_BYTES), issuedAt: reader.u64() });
  } catch (error) {
    if (error instanceof ShortBodyError) return undefined;
    throw error;
  }
}

/** The MAC of an answer: over the challenge nonce and the exact beacon bytes. */
export function probeAnswerMac(probeKey: Buffer, challengeNonce: Buffer, beaconBody: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(beaconBody.length);
  return createHmac('sha256', probeKey).update(MAC_LABEL).update(challengeNonce).update(length).update(beaconBody).digest();
}

/** Encodes an answer body, with its MAC. */
export function encodeAnswer(probeKey: Buffer, challengeNonce: Buffer, beacon: BeaconMessage): Buffer {
  const beaconBody = encodeBeacon(beacon);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(beaconBody.length);
  return Buffer.concat([challengeNonce, length, beaconBody, probeAnswerMac(probeKey, challengeNonce, beaconBody)]);
}

/** Result of {@link decodeAnswer}. */
export type DecodedAnswer = AnswerMessage | 'malformed' | 'bad_mac';

/** Decodes an answer and verifies its MAC (in constant time). */
export function decodeAnswer(probeKey: Buffer, body: Buffer): DecodedAnswer {
  const reader = new ByteReader(body);
  try {
    const challengeNonce = reader.bytes(CHALLENGE_NONCE_BYTES);
    const beaconBody = reader.bytes(reader.u16());
    const mac = reader.bytes(MAC_BYTES);
    if (reader.remaining !== 0) return 'malformed';
    if (!timingSafeEqual(mac, probeAnswerMac(probeKey, challengeNonce, beaconBody))) return 'bad_mac';
    const beaconReader = new ByteReader(beaconBody);
    const beacon = readBeacon(beaconReader);
    if (beacon === undefined || beaconReader.remaining !== 0) return 'malformed';
    return Object.freeze({ challengeNonce, beacon });
  } catch (error) {
    if (error instanceof ShortBodyError) return 'malformed';
    throw error;
  }
}
