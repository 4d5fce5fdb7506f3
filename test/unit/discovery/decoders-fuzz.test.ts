/**
 * Whatever arrives, the decoders and the sockets' judgement return a refusal and never throw: random
 * bytes of every length, and random bodies sealed under the right key (what only an insider could send).
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { decodeBeacon } from '../../../src/shared/discovery/beacon-message.js';
import { BeaconReceiver } from '../../../src/shared/discovery/beacon-receiver.js';
import { BeaconSource } from '../../../src/shared/discovery/beacon-source.js';
import { ClusterKeyring } from '../../../src/shared/discovery/cluster-keyring.js';
import { decodeAnswer, decodeChallenge } from '../../../src/shared/discovery/probe-messages.js';
import { ProbeResponder } from '../../../src/shared/discovery/probe-responder.js';
import { DATAGRAM_BYTES, DatagramType, MAX_DATAGRAM_BODY_BYTES, openDatagram, sealDatagram } from '../../../src/shared/discovery/sealed-datagram.js';
import { announcementFor, loopbackOptions, newSecret } from '../../helpers/discovery-loopback.js';

const secret = newSecret();
const ring = ClusterKeyring.from(secret);
const unlimited = { rateLimits: { perSourcePerSecond: 100_000, perSourceBurst: 100_000, globalPerSecond: 1_000_000 } };

describe('discovery decoders under random input', () => {
  it('decoders return undefined or a refusal for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => {
        const buffer = Buffer.from(bytes);
        expect(decodeBeacon(buffer)).toBeUndefined();
        expect(decodeChallenge(buffer) === undefined || buffer.length === 40).toBe(true);
        expect(['malformed', 'bad_mac']).toContain(decodeAnswer(ring.current.probeKey, buffer));
        expect(openDatagram(ring, buffer).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('a receiver and a responder refuse random sealed bodies of every type without throwing', () => {
    const receiver = new BeaconReceiver(loopbackOptions(secret, unlimited));
    const responder = new ProbeResponder(loopbackOptions(secret, unlimited), new BeaconSource(announcementFor('proxy-f')));
    fc.assert(
      fc.property(fc.constantFrom(DatagramType.beacon, DatagramType.challenge, DatagramType.answer), fc.uint8Array({ maxLength: MAX_DATAGRAM_BODY_BYTES }), (type, body) => {
        const datagram = sealDatagram(ring.current, type, Buffer.from(body));
        expect(datagram).toHaveLength(DATAGRAM_BYTES);
        expect(receiver.handle(datagram, '127.0.0.1')).toBeDefined();
        const handled = responder.handle(datagram, '127.0.0.1');
        expect('refused' in handled).toBe(true);
      }),
      { numRuns: 300 },
    );
    expect(receiver.list()).toEqual([]);
    void receiver.stop();
    void responder.stop();
  });
});
