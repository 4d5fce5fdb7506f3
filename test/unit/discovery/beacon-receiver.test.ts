/**
 * The receiver's judgement, datagram by datagram, without sockets: handle() is what the socket calls.
 * Clocks are frozen so freshness is decided by the test, not by the machine's speed.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import { encodeBeacon, type BeaconMessage } from '../../../src/shared/discovery/beacon-message.js';
import { BeaconReceiver } from '../../../src/shared/discovery/beacon-receiver.js';
import { BeaconSource } from '../../../src/shared/discovery/beacon-source.js';
import { ClusterKeyring } from '../../../src/shared/discovery/cluster-keyring.js';
import type { DiscoveredProxy } from '../../../src/shared/discovery/peer-tracker.js';
import { encodeChallenge } from '../../../src/shared/discovery/probe-messages.js';
import { REFUSAL_REASONS } from '../../../src/shared/discovery/refusal-counters.js';
import { DATAGRAM_BYTES, DatagramType, sealDatagram } from '../../../src/shared/discovery/sealed-datagram.js';
import { announcementFor, loopbackOptions, newSecret } from '../../helpers/discovery-loopback.js';

const T0 = 1_800_000_000_000;
const LIFETIME = 15_000;

describe('BeaconReceiver judgement', () => {
  const secret = newSecret();
  const ring = ClusterKeyring.from(secret);
  let clock = T0;
  let tick = 0;
  const receivers: BeaconReceiver[] = [];
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((receiver) => receiver.stop()));
  });

  function receiver(overrides: Parameters<typeof loopbackOptions>[1] = {}, secretValue: Parameters<typeof loopbackOptions>[0] = secret): BeaconReceiver {
    clock = T0;
    const made = new BeaconReceiver(loopbackOptions(secretValue, overrides), undefined, { now: () => clock, monotonic: () => (tick += 1) });
    receivers.push(made);
    return made;
  }

  function seal(message: BeaconMessage, keys = ring.current): Buffer {
    return sealDatagram(keys, DatagramType.beacon, encodeBeacon(message));
  }

  it('accepts a fresh beacon and emits up with the announcement and source address', () => {
    const r = receiver();
    const ups: DiscoveredProxy[] = [];
    r.on('up', (proxy: DiscoveredProxy) => ups.push(proxy));
    const source = new BeaconSource(announcementFor('proxy-a', 4000), () => clock);
    expect(r.handle(seal(source.next(LIFETIME)), '127.0.0.1')).toBeUndefined();
    expect(ups).toHaveLength(1);
    expect(ups[0]).toMatchObject({ announcement: source.announcement, address: '127.0.0.1', via: 'beacon' });
    expect(r.list().map((proxy) => proxy.announcement.proxyId)).toEqual(['proxy-a']);
    expect(r.stats()).toMatchObject({ received: 1, accepted: 1 });
  });

  it('refuses a replayed beacon and an out-of-order one, and counts them', () => {
    const r = receiver();
    const source = new BeaconSource(announcementFor('proxy-a'), () => clock);
    const first = seal(source.next(LIFETIME));
    const second = seal(source.next(LIFETIME));
    expect(r.handle(second, '127.0.0.1')).toBeUndefined();
    expect(r.handle(second, '127.0.0.1')).toBe('replayed');
    expect(r.handle(first, '127.0.0.1')).toBe('out_of_order');
    expect(r.stats().refused).toMatchObject({ replayed: 1, out_of_order: 1 });
  });

  it('refuses a stale beacon (expired beyond the clock skew) and one issued in the future', () => {
    const r = receiver({ maxClockSkewMs: 1000 });
    const source = new BeaconSource(announcementFor('proxy-a'), () => clock);
    const old = seal(source.next(LIFETIME));
    clock = T0 + LIFETIME + 1001;
    expect(r.handle(old, '127.0.0.1')).toBe('expired');
    const future = seal({ ...source.next(LIFETIME), issuedAt: clock + 1001, expiresAt: clock + 1001 + LIFETIME });
    expect(r.handle(future, '127.0.0.1')).toBe('not_yet_valid');
    expect(r.stats().refused).toMatchObject({ expired: 1, not_yet_valid: 1 });
    expect(r.list()).toEqual([]);
  });

  it('takes a restarted proxy (new epoch, counter from 1) but refuses the old boot replayed after it', () => {
    const r = receiver();
    const beforeRestart = new BeaconSource(announcementFor('proxy-a'), () => clock);
    const oldBoot = [seal(beforeRestart.next(LIFETIME)), seal(beforeRestart.next(LIFETIME))];
    expect(r.handle(oldBoot[0]!, '127.0.0.1')).toBeUndefined();
    clock += 1000;
    const afterRestart = new BeaconSource(announcementFor('proxy-a'), () => clock);
    expect(r.handle(seal(afterRestart.next(LIFETIME)), '127.0.0.1')).toBeUndefined();
    expect(r.handle(oldBoot[1]!, '127.0.0.1')).toBe('out_of_order');
  });

  it('refuses a wrong secret, a forgery, a truncated datagram and a challenge sent as a beacon', () => {
    const r = receiver();
    const source = new BeaconSource(announcementFor('proxy-a'), () => clock);
    expect(r.handle(seal(source.next(LIFETIME), ClusterKeyring.from(newSecret()).current), '127.0.0.1')).toBe('unknown_key');
    const forged = seal(source.next(LIFETIME));
    forged[600] = (forged[600] as number) ^ 0xff;
    expect(r.handle(forged, '127.0.0.1')).toBe('forged');
    expect(r.handle(seal(source.next(LIFETIME)).subarray(0, 600), '127.0.0.1')).toBe('size');
    const challenge = sealDatagram(ring.current, DatagramType.challenge, encodeChallenge({ nonce: randomBytes(32), issuedAt: clock }));
    expect(r.handle(challenge, '127.0.0.1')).toBe('wrong_type');
    const garbageInside = sealDatagram(ring.current, DatagramType.beacon, randomBytes(50));
    expect(r.handle(garbageInside, '127.0.0.1')).toBe('malformed');
    expect(r.list()).toEqual([]);
    expect(r.stats().refused).toMatchObject({ unknown_key: 1, forged: 1, size: 1, wrong_type: 1, malformed: 1 });
  });

  it('accepts both secrets during a rotation', () => {
    const oldSecret = newSecret();
    const newSecretText = newSecret();
    const r = receiver({}, [newSecretText, oldSecret]);
    const onOld = new BeaconSource(announcementFor('proxy-old'), () => clock);
    const onNew = new BeaconSource(announcementFor('proxy-new'), () => clock);
    expect(r.handle(sealDatagram(ClusterKeyring.from(oldSecret).current, DatagramType.beacon, encodeBeacon(onOld.next(LIFETIME))), '127.0.0.1')).toBeUndefined();
    expect(r.handle(sealDatagram(ClusterKeyring.from(newSecretText).current, DatagramType.beacon, encodeBeacon(onNew.next(LIFETIME))), '127.0.0.1')).toBeUndefined();
    expect(r.list().map((proxy) => proxy.announcement.proxyId).sort()).toEqual(['proxy-new', 'proxy-old']);
  });

  it('tracks at most maxProxies: a new proxy beyond is refused, known ones still accepted', () => {
    const r = receiver({ maxProxies: 2 });
    const sources = ['p1', 'p2', 'p3'].map((id) => new BeaconSource(announcementFor(id), () => clock));
    expect(r.handle(seal(sources[0]!.next(LIFETIME)), '127.0.0.1')).toBeUndefined();
    expect(r.handle(seal(sources[1]!.next(LIFETIME)), '127.0.0.1')).toBeUndefined();
    expect(r.handle(seal(sources[2]!.next(LIFETIME)), '127.0.0.1')).toBe('too_many_proxies');
    expect(r.handle(seal(sources[0]!.next(LIFETIME)), '127.0.0.1')).toBeUndefined();
    expect(r.list()).toHaveLength(2);
  });

  it('emits changed when an accepted beacon announces new URLs', () => {
    const r = receiver();
    const source = new BeaconSource(announcementFor('proxy-a', 4000), () => clock);
    r.handle(seal(source.next(LIFETIME)), '127.0.0.1');
    const changes: DiscoveredProxy[] = [];
    r.on('changed', (proxy: DiscoveredProxy) => changes.push(proxy));
    source.update(announcementFor('proxy-a', 4001, source.announcement.pin));
    r.handle(seal(source.next(LIFETIME)), '127.0.0.1');
    expect(changes.map((proxy) => proxy.announcement.controlUrls)).toEqual([['wss://127.0.0.1:4001/']]);
  });

  it('rate-limits a flood of garbage per source before any cryptography, crashes on nothing, counts every datagram', () => {
    const r = receiver({ rateLimits: { perSourcePerSecond: 10, perSourceBurst: 20, globalPerSecond: 100_000 } });
    let thrown = 0;
    for (let i = 0; i < 5000; i += 1) {
      const size = i % 3 === 0 ? DATAGRAM_BYTES : (i * 7919) % 2000;
      const garbage = randomBytes(size);
      if (size === DATAGRAM_BYTES) garbage[0] = 1;
      try {
        r.handle(garbage, '127.0.0.9');
      } catch {
        thrown += 1;
      }
    }
    expect(thrown).toBe(0);
    const stats = r.stats();
    expect(stats.received).toBe(5000);
    expect(stats.accepted).toBe(0);
    // The monotonic clock moves 1 ms per datagram: 20 burst + 10/s over 5 s = at most 70 reach the crypto.
    expect(stats.refused.rate_limited).toBeGreaterThanOrEqual(4930);
    expect(REFUSAL_REASONS.reduce((sum, reason) => sum + stats.refused[reason], 0)).toBe(5000);
    // Another source is not punished for the flood.
    const source = new BeaconSource(announcementFor('proxy-a'), () => clock);
    expect(r.handle(seal(source.next(LIFETIME)), '127.0.0.1')).toBeUndefined();
  });

  it('emits down when no beacon came for the lifetime of the last one, and refuses its replay afterwards', async () => {
    const r = receiver();
    const source = new BeaconSource(announcementFor('proxy-a'), () => clock);
    const beacon = seal(source.next(100));
    const down = new Promise<DiscoveredProxy>((resolve) => r.once('down', resolve));
    expect(r.handle(beacon, '127.0.0.1')).toBeUndefined();
    expect((await down).announcement.proxyId).toBe('proxy-a');
    expect(r.list()).toEqual([]);
    expect(r.handle(beacon, '127.0.0.1')).toBe('replayed');
    expect(r.list()).toEqual([]);
  });
});
