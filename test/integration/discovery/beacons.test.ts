/**
 * Beacons over real UDP sockets on loopback only: multicast on 127.0.0.1 with TTL 0, and broadcast to
 * 127.255.255.255. Waits are on events (up, down), never on sleeps.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import { BeaconReceiver } from '../../../src/shared/discovery/beacon-receiver.js';
import { BeaconSender } from '../../../src/shared/discovery/beacon-sender.js';
import type { DiscoveredProxy } from '../../../src/shared/discovery/peer-tracker.js';
import { DATAGRAM_BYTES } from '../../../src/shared/discovery/sealed-datagram.js';
import { announcementFor, LOOPBACK_BROADCAST, LOOPBACK_INTERFACE, LOOPBACK_SECOND, loopbackOptions, newSecret } from '../../helpers/discovery-loopback.js';

const stoppers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stoppers.splice(0).map((stop) => stop()));
});

function upOf(receiver: BeaconReceiver, proxyId: string): Promise<DiscoveredProxy> {
  return new Promise((resolve) => {
    const onUp = (proxy: DiscoveredProxy): void => {
      if (proxy.announcement.proxyId !== proxyId) return;
      receiver.off('up', onUp);
      resolve(proxy);
    };
    receiver.on('up', onUp);
  });
}

async function startReceiver(options: ReturnType<typeof loopbackOptions>): Promise<BeaconReceiver> {
  const receiver = new BeaconReceiver(options);
  stoppers.push(() => receiver.stop());
  await receiver.start();
  return receiver;
}

async function startSender(options: ReturnType<typeof loopbackOptions>, proxyId: string): Promise<BeaconSender> {
  const sender = new BeaconSender(options, announcementFor(proxyId));
  stoppers.push(() => sender.stop());
  await sender.start();
  return sender;
}

describe('beacons on loopback multicast (TTL 0)', () => {
  it('a receiver sees two proxies come up, and one go down when its beacons stop', async () => {
    const secret = newSecret();
    // A 1 s lifetime: long enough that a loaded machine does not drop the proxy that keeps sending.
    const options = loopbackOptions(secret, { intervalMs: 200, lifetimeIntervals: 5, jitter: 0.2 });
    const receiver = await startReceiver(options);
    const senderOptions = { ...options, port: receiver.port };
    const upA = upOf(receiver, 'proxy-a');
    const upB = upOf(receiver, 'proxy-b');
    const a = await startSender(senderOptions, 'proxy-a');
    await startSender(senderOptions, 'proxy-b');
    expect((await upA).address).toBe(LOOPBACK_INTERFACE);
    await upB;
    expect(receiver.list().map((proxy) => proxy.announcement.proxyId).sort()).toEqual(['proxy-a', 'proxy-b']);

    const down = new Promise<DiscoveredProxy>((resolve) => receiver.on('down', (proxy: DiscoveredProxy) => proxy.announcement.proxyId === 'proxy-a' && resolve(proxy)));
    await a.stop();
    expect((await down).announcement.proxyId).toBe('proxy-a');
    expect(receiver.list().map((proxy) => proxy.announcement.proxyId)).toEqual(['proxy-b']);
    expect(receiver.stats().refused.replayed + receiver.stats().refused.out_of_order).toBe(0);
  });

  it('a receiver with another secret hears the same beacons and takes none (unknown_key)', async () => {
    const options = loopbackOptions(newSecret(), { intervalMs: 50 });
    const member = await startReceiver(options);
    const outsider = await startReceiver({ ...options, secret: newSecret(), port: member.port });
    const refused = new Promise<string>((resolve) => outsider.once('refused', resolve));
    const up = upOf(member, 'proxy-a');
    await startSender({ ...options, port: member.port }, 'proxy-a');
    await up;
    expect(await refused).toBe('unknown_key');
    expect(outsider.list()).toEqual([]);
    expect(outsider.stats().accepted).toBe(0);
  });

  it('survives a flood of garbage from another address, rate-limits it, and still takes the real beacons', async () => {
    const options = loopbackOptions(newSecret(), { intervalMs: 100, rateLimits: { perSourcePerSecond: 5, perSourceBurst: 10 } });
    const receiver = await startReceiver(options);
    const flooder = dgram.createSocket('udp4');
    stoppers.push(() => new Promise((resolve) => flooder.close(() => resolve())));
    await new Promise<void>((resolve) => flooder.bind(0, LOOPBACK_SECOND, resolve));
    const firstRefusal = new Promise<void>((resolve) => receiver.once('refused', () => resolve()));
    for (let i = 0; i < 1000; i += 1) {
      const datagram = i % 2 === 0 ? randomBytes(DATAGRAM_BYTES) : randomBytes(i % 1500);
      await new Promise<void>((resolve) => flooder.send(datagram, receiver.port!, options.group!, () => resolve()));
    }
    await firstRefusal;
    const up = upOf(receiver, 'proxy-a');
    await startSender({ ...options, port: receiver.port }, 'proxy-a');
    expect((await up).address).toBe(LOOPBACK_INTERFACE);
    const stats = receiver.stats();
    expect(stats.refused.rate_limited).toBeGreaterThan(0);
    expect(stats.accepted).toBeGreaterThanOrEqual(1);
  });

  it('starts and stops idempotently, and sends nothing once stopped', async () => {
    const options = loopbackOptions(newSecret(), { intervalMs: 1000 });
    const receiver = new BeaconReceiver(options);
    expect(receiver.start()).toBe(receiver.start());
    await receiver.start();
    const sender = new BeaconSender({ ...options, port: receiver.port }, announcementFor('proxy-a'));
    const up = upOf(receiver, 'proxy-a');
    expect(sender.start()).toBe(sender.start());
    await sender.start();
    await up;
    const stopping = sender.stop();
    expect(sender.stop()).toBe(stopping);
    await stopping;
    const sent = sender.stats().sent;
    await sender.sendNow();
    expect(sender.stats().sent).toBe(sent);
    await expect(sender.start()).rejects.toMatchObject({ code: 'RP_ERR_NOT_RUNNING' });
    await receiver.stop();
    await receiver.stop();
    expect(receiver.port).toBeUndefined();
  });
});

describe('beacons with broadcastOnly on loopback', () => {
  it('a receiver bound to the loopback broadcast address sees the proxy', async () => {
    const options = loopbackOptions(newSecret(), { broadcastOnly: true, broadcastAddress: LOOPBACK_BROADCAST, bindAddress: LOOPBACK_BROADCAST, intervalMs: 100 });
    const receiver = await startReceiver(options);
    const up = upOf(receiver, 'proxy-b');
    await startSender({ ...options, port: receiver.port }, 'proxy-b');
    expect((await up).announcement.controlUrls).toEqual(['wss://127.0.0.1:3042/']);
  });
});
