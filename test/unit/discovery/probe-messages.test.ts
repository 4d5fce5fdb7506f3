import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { encodeBeacon } from '../../../src/shared/discovery/beacon-message.js';
import { BeaconSource } from '../../../src/shared/discovery/beacon-source.js';
import { ClusterKeyring } from '../../../src/shared/discovery/cluster-keyring.js';
import { CHALLENGE_NONCE_BYTES, decodeAnswer, decodeChallenge, encodeAnswer, encodeChallenge, probeAnswerMac } from '../../../src/shared/discovery/probe-messages.js';
import { announcementFor, newSecret } from '../../helpers/discovery-loopback.js';

const keys = ClusterKeyring.from(newSecret()).current;

describe('probe messages', () => {
  const nonce = randomBytes(CHALLENGE_NONCE_BYTES);
  const beacon = new BeaconSource(announcementFor('proxy-a', 3042)).next(15_000);

  it('round-trips a challenge and refuses one of the wrong length', () => {
    const challenge = { nonce, issuedAt: 1_700_000_000_000 };
    expect(decodeChallenge(encodeChallenge(challenge))).toEqual(challenge);
    expect(decodeChallenge(encodeChallenge(challenge).subarray(1))).toBeUndefined();
  });

  it('round-trips an answer whose MAC verifies', () => {
    expect(decodeAnswer(keys.probeKey, encodeAnswer(keys.probeKey, nonce, beacon))).toEqual({ challengeNonce: nonce, beacon });
  });

  it('fails the MAC when any byte of the challenge nonce or of what is announced changes', () => {
    const body = encodeAnswer(keys.probeKey, nonce, beacon);
    // Offsets 0..31 are the nonce, 32..33 the beacon length, then every announced byte, then the MAC.
    for (let offset = 0; offset < body.length; offset += 1) {
      if (offset === 32 || offset === 33) continue;
      const tampered = Buffer.from(body);
      tampered[offset] = (tampered[offset] as number) ^ 0x01;
      expect([offset, decodeAnswer(keys.probeKey, tampered)]).toEqual([offset, 'bad_mac']);
    }
  });

  it('covers the announced port and the pin: an answer rebuilt with another port or pin fails the MAC', () => {
    const body = encodeAnswer(keys.probeKey, nonce, beacon);
    const beaconBody = encodeBeacon(beacon);
    const swaps = [
      encodeBeacon({ ...beacon, announcement: { ...beacon.announcement, controlUrls: ['wss://127.0.0.1:3043/'] } }),
      encodeBeacon({ ...beacon, announcement: { ...beacon.announcement, pin: randomBytes(32).toString('base64') } }),
    ];
    for (const swapped of swaps) {
      expect(swapped).toHaveLength(beaconBody.length);
      const tampered = Buffer.from(body);
      swapped.copy(tampered, 34);
      expect(decodeAnswer(keys.probeKey, tampered)).toBe('bad_mac');
    }
  });

  it('fails the MAC under another cluster key, and is malformed when truncated or extended', () => {
    const body = encodeAnswer(keys.probeKey, nonce, beacon);
    expect(decodeAnswer(ClusterKeyring.from(newSecret()).current.probeKey, body)).toBe('bad_mac');
    expect(decodeAnswer(keys.probeKey, body.subarray(0, body.length - 1))).toBe('malformed');
    expect(decodeAnswer(keys.probeKey, Buffer.concat([body, Buffer.from([0])]))).toBe('malformed');
    expect(decodeAnswer(keys.probeKey, Buffer.alloc(0))).toBe('malformed');
  });

  it('binds the MAC to the challenge: the same beacon answering another nonce has another MAC', () => {
    const beaconBody = encodeBeacon(beacon);
    expect(probeAnswerMac(keys.probeKey, nonce, beaconBody).equals(probeAnswerMac(keys.probeKey, randomBytes(32), beaconBody))).toBe(false);
  });
});
