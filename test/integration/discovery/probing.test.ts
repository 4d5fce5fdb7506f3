/**
 * Unicast probing over real UDP sockets on loopback: two responders on 127.0.0.1 and 127.0.0.2 (the same
 * ephemeral port), a prober given the range 127.0.0.0/30.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BeaconSource } from '../../../src/shared/discovery/beacon-source.js';
import { ClusterKeyring } from '../../../src/shared/discovery/cluster-keyring.js';
import type { DiscoveredProxy } from '../../../src/shared/discovery/peer-tracker.js';
import { ProbeResponder } from '../../../src/shared/discovery/probe-responder.js';
import { Prober } from '../../../src/shared/discovery/prober.js';
import { encodeAnswer, encodeChallenge } from '../../../src/shared/discovery/probe-messages.js';
import { DATAGRAM_BYTES, DatagramType, sealDatagram } from '../../../src/shared/discovery/sealed-datagram.js';
import { announcementFor, LOOPBACK_INTERFACE, LOOPBACK_SECOND, loopbackOptions, newSecret } from '../../helpers/discovery-loopback.js';

const secret = newSecret();
const ring = ClusterKeyring.from(secret);
const responders: ProbeResponder[] = [];
let probePort = 0;

beforeAll(async () => {
  const first = new ProbeResponder(loopbackOptions(secret), new BeaconSource(announcementFor('proxy-one', 4001)));
  responders.push(first);
  await first.start();
  probePort = first.port!;
  const second = new ProbeResponder(loopbackOptions(secret, { interface: LOOPBACK_SECOND, probePort }), new BeaconSource(announcementFor('proxy-two', 4002)));
  responders.push(second);
  await second.start();
});

afterAll(async () => {
  await Promise.all(responders.map((responder) => responder.stop()));
});

function prober(overrides: Parameters<typeof loopbackOptions>[1] = {}, secretValue: string | readonly string[] = secret): Prober {
  return new Prober({ ...loopbackOptions(secretValue, { probePort, probeTimeoutMs: 5000, ...overrides }), probe: '127.0.0.0/30' });
}

describe('probing a loopback range', () => {
  it('finds both responders, with what they announce and where they answered from', async () => {
    const p = prober();
    try {
      expect(p.targets).toEqual(['127.0.0.1', '127.0.0.2']);
      const found = await p.probe();
      const byId = Object.fromEntries(found.map((proxy: DiscoveredProxy) => [proxy.announcement.proxyId, proxy]));
      expect(Object.keys(byId).sort()).toEqual(['proxy-one', 'proxy-two']);
      expect(byId['proxy-one']).toMatchObject({ address: LOOPBACK_INTERFACE, via: 'probe', announcement: { controlUrls: ['wss://127.0.0.1:4001/'] } });
      expect(byId['proxy-two']).toMatchObject({ address: LOOPBACK_SECOND, via: 'probe' });
      expect(p.list()).toHaveLength(2);
      // A second round: the counters grew, nothing is taken for a replay.
      expect(await p.probe()).toHaveLength(2);
      expect(p.stats().refused.replayed + p.stats().refused.out_of_order).toBe(0);
    } finally {
      await p.stop();
    }
  });

  it('a prober with another secret finds nothing: the responders refuse its challenges unanswered', async () => {
    const before = responders[0]!.stats().refused.unknown_key;
    const p = prober({ probeTimeoutMs: 300 }, newSecret());
    try {
      expect(await p.probe()).toEqual([]);
    } finally {
      await p.stop();
    }
    expect(responders[0]!.stats().refused.unknown_key).toBe(before + 1);
  });

  it('a prober in rotation step 1 (old, new) still finds responders on the old secret alone', async () => {
    const p = prober({}, [secret, newSecret()]);
    try {
      expect((await p.probe()).map((proxy) => proxy.announcement.proxyId).sort()).toEqual(['proxy-one', 'proxy-two']);
    } finally {
      await p.stop();
    }
  });

  it('stops idempotently, and a stopped prober probes nothing', async () => {
    const p = prober();
    await p.start();
    const stopping = p.stop();
    expect(p.stop()).toBe(stopping);
    await stopping;
    expect(await p.probe()).toEqual([]);
  });
});

describe('ProbeResponder judgement', () => {
  const T0 = 1_800_000_000_000;
  const responder = new ProbeResponder(loopbackOptions(secret, { maxClockSkewMs: 1000, probeTimeoutMs: 1000 }), new BeaconSource(announcementFor('proxy-j')), undefined, () => T0);

  function challenge(issuedAt = T0): Buffer {
    return sealDatagram(ring.current, DatagramType.challenge, encodeChallenge({ nonce: randomBytes(32), issuedAt }));
  }

  it('answers a fresh challenge with a datagram of the same size (no amplification)', () => {
    const result = responder.handle(challenge(), '127.0.0.1');
    expect('answer' in result && result.answer.length).toBe(DATAGRAM_BYTES);
  });

  it('answers a challenge once: a replay is refused', () => {
    const datagram = challenge();
    expect('answer' in responder.handle(datagram, '127.0.0.1')).toBe(true);
    expect(responder.handle(datagram, '127.0.0.1')).toEqual({ refused: 'replayed' });
  });

  it('refuses a stale or future challenge, a beacon sent as a challenge and garbage', () => {
    expect(responder.handle(challenge(T0 - 2001), '127.0.0.1')).toEqual({ refused: 'expired' });
    expect(responder.handle(challenge(T0 + 1001), '127.0.0.1')).toEqual({ refused: 'not_yet_valid' });
    expect(responder.handle(sealDatagram(ring.current, DatagramType.answer, Buffer.alloc(10)), '127.0.0.1')).toEqual({ refused: 'wrong_type' });
    expect(responder.handle(randomBytes(40), '127.0.0.1')).toEqual({ refused: 'size' });
  });
});

describe('Prober judgement', () => {
  it('refuses an answer to no pending challenge, even with a valid MAC', () => {
    const p = prober();
    const beacon = new BeaconSource(announcementFor('proxy-x')).next(15_000);
    const unsolicited = sealDatagram(ring.current, DatagramType.answer, encodeAnswer(ring.current.probeKey, randomBytes(32), beacon));
    expect(p.handle(unsolicited, '127.0.0.1')).toBe('unsolicited');
    expect(p.list()).toEqual([]);
    void p.stop();
  });
});
