import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { encodeBeacon, decodeBeacon, MAX_BEACON_LIFETIME_MS } from '../../../src/shared/discovery/beacon-message.js';
import { BeaconSource } from '../../../src/shared/discovery/beacon-source.js';
import { ClusterKeyring } from '../../../src/shared/discovery/cluster-keyring.js';
import { DATAGRAM_BYTES, DatagramType, MAX_DATAGRAM_BODY_BYTES, openDatagram, sealDatagram } from '../../../src/shared/discovery/sealed-datagram.js';
import { announcementFor, newSecret } from '../../helpers/discovery-loopback.js';

const ring = ClusterKeyring.from(newSecret());
const keys = ring.current;

function beaconDatagram(source: BeaconSource): Buffer {
  return sealDatagram(keys, DatagramType.beacon, encodeBeacon(source.next(15_000)));
}

describe('sealed datagram', () => {
  it('round-trips a beacon: what is opened is what was sealed', () => {
    const source = new BeaconSource(announcementFor('proxy-a', 3042));
    const message = source.next(15_000);
    const opened = openDatagram(ring, sealDatagram(keys, DatagramType.beacon, encodeBeacon(message)));
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(opened.type).toBe(DatagramType.beacon);
    expect(decodeBeacon(opened.body)).toEqual(message);
  });

  it('always has the same size, whatever the announcement', () => {
    const small = new BeaconSource(announcementFor('a'));
    const large = new BeaconSource({
      proxyId: 'p'.repeat(64),
      controlUrls: [1, 2, 3, 4].map((i) => `wss://${'h'.repeat(170)}${i}.example:65535/`),
      pin: randomBytes(32).toString('base64'),
    });
    expect(beaconDatagram(small)).toHaveLength(DATAGRAM_BYTES);
    expect(beaconDatagram(large)).toHaveLength(DATAGRAM_BYTES);
    expect(encodeBeacon(large.next(1000)).length).toBeLessThanOrEqual(MAX_DATAGRAM_BODY_BYTES);
  });

  it('shows a passive observer only the version and the key id: beacons of two proxies differ in nothing else it can read', () => {
    const a = beaconDatagram(new BeaconSource(announcementFor('proxy-a', 3042)));
    const b = beaconDatagram(new BeaconSource({ proxyId: 'another-proxy-with-a-long-id', controlUrls: ['wss://127.0.0.1:3042/', 'wss://127.0.0.1:4042/'], pin: randomBytes(32).toString('base64') }));
    expect(a.length).toBe(b.length);
    expect(a.subarray(0, 5)).toEqual(b.subarray(0, 5));
    expect(a[0]).toBe(1);
    expect(a.subarray(1, 5)).toEqual(keys.keyId);
    // Nothing announced appears in clear.
    for (const needle of ['proxy-a', 'wss://', '127.0.0.1', '3042']) expect(a.includes(Buffer.from(needle))).toBe(false);
    // Another cluster differs in the key id only (the rest is random to anyone without its key).
    const other = sealDatagram(ClusterKeyring.from(newSecret()).current, DatagramType.beacon, encodeBeacon(new BeaconSource(announcementFor('proxy-a')).next(1000)));
    expect(other.length).toBe(a.length);
    expect(other[0]).toBe(a[0]);
    expect(other.subarray(1, 5).equals(a.subarray(1, 5))).toBe(false);
  });

  it('refuses a datagram sealed with another secret as unknown_key', () => {
    const foreign = sealDatagram(ClusterKeyring.from(newSecret()).current, DatagramType.beacon, Buffer.from('x'));
    expect(openDatagram(ring, foreign)).toEqual({ ok: false, reason: 'unknown_key' });
  });

  it('refuses a change to any sealed byte, the nonce or the tag as forged', () => {
    const datagram = beaconDatagram(new BeaconSource(announcementFor('proxy-a')));
    for (const offset of [5, 16, 17, 100, 700, DATAGRAM_BYTES - 17, DATAGRAM_BYTES - 1]) {
      const tampered = Buffer.from(datagram);
      tampered[offset] = (tampered[offset] as number) ^ 0x01;
      expect(openDatagram(ring, tampered)).toEqual({ ok: false, reason: 'forged' });
    }
  });

  it('refuses a forgery under a known key id made without the key as forged', () => {
    const forged = randomBytes(DATAGRAM_BYTES);
    forged[0] = 1;
    keys.keyId.copy(forged, 1);
    expect(openDatagram(ring, forged)).toEqual({ ok: false, reason: 'forged' });
  });

  it('refuses truncated and oversized datagrams by size, and another version', () => {
    const datagram = beaconDatagram(new BeaconSource(announcementFor('proxy-a')));
    expect(openDatagram(ring, datagram.subarray(0, DATAGRAM_BYTES - 1))).toEqual({ ok: false, reason: 'size' });
    expect(openDatagram(ring, Buffer.alloc(0))).toEqual({ ok: false, reason: 'size' });
    expect(openDatagram(ring, Buffer.concat([datagram, Buffer.from([0])]))).toEqual({ ok: false, reason: 'size' });
    const v2 = Buffer.from(datagram);
    v2[0] = 2;
    expect(openDatagram(ring, v2)).toEqual({ ok: false, reason: 'version' });
  });

  it('opens with an older key of the keyring, and seals with the newest (rotation)', () => {
    const oldSecret = newSecret();
    const newSecretText = newSecret();
    const rotated = ClusterKeyring.from([newSecretText, oldSecret]);
    const fromOld = sealDatagram(ClusterKeyring.from(oldSecret).current, DatagramType.beacon, Buffer.from('hello'));
    const fromNew = sealDatagram(rotated.current, DatagramType.beacon, Buffer.from('hello'));
    expect(openDatagram(rotated, fromOld)).toMatchObject({ ok: true, body: Buffer.from('hello') });
    expect(openDatagram(ClusterKeyring.from(newSecretText), fromNew)).toMatchObject({ ok: true });
    expect(openDatagram(ClusterKeyring.from(newSecretText), fromOld)).toEqual({ ok: false, reason: 'unknown_key' });
  });

  it('refuses a body larger than the datagram can carry (encoders bound their fields)', () => {
    expect(() => sealDatagram(keys, DatagramType.beacon, Buffer.alloc(MAX_DATAGRAM_BODY_BYTES + 1))).toThrow(RangeError);
  });
});

describe('beacon body', () => {
  it('refuses a lifetime over 10 minutes, an expiry before issue, trailing bytes and a truncated body', () => {
    const source = new BeaconSource(announcementFor('proxy-a'));
    expect(() => source.next(MAX_BEACON_LIFETIME_MS + 1)).toThrow('lifetimeMs');
    const message = source.next(1000);
    expect(decodeBeacon(encodeBeacon({ ...message, expiresAt: message.issuedAt }))).toBeUndefined();
    expect(decodeBeacon(encodeBeacon({ ...message, expiresAt: message.issuedAt + MAX_BEACON_LIFETIME_MS + 1 }))).toBeUndefined();
    const body = encodeBeacon(message);
    expect(decodeBeacon(Buffer.concat([body, Buffer.from([0])]))).toBeUndefined();
    for (let length = 0; length < body.length; length += 7) expect(decodeBeacon(body.subarray(0, length))).toBeUndefined();
  });
});
