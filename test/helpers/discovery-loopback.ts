/**
 * The only network configuration discovery tests use: the loopback interface, multicast TTL 0 (never
 * leaves this host), a random group in 239.255.0.0/16 and ephemeral ports, so parallel test files (and
 * other engineers' runs on this machine) never hear each other. `loopback-config.test.ts` checks that no
 * discovery test names any other interface or address.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { Announcement } from '../../src/shared/discovery/announcement.js';
import type { DiscoveryOptions } from '../../src/shared/discovery/discovery-options.js';

/** The interface every discovery socket in tests binds to. */
export const LOOPBACK_INTERFACE = '127.0.0.1';
/** A second loopback address (Linux answers the whole 127.0.0.0/8 on `lo`). */
export const LOOPBACK_SECOND = '127.0.0.2';
/** Loopback broadcast address (broadcastOnly tests). */
export const LOOPBACK_BROADCAST = '127.255.255.255';

/** A fresh random cluster secret, as `openssl rand -base64 32` prints it. */
export function newSecret(): string {
  return randomBytes(32).toString('base64');
}

/** A random administratively scoped group, so concurrent test files do not share one. */
export function randomGroup(): string {
  return `239.255.${randomInt(100, 255)}.${randomInt(1, 255)}`;
}

/** Discovery options bound to loopback with TTL 0 (port 0: set the receiver's real port on the sender). */
export function loopbackOptions(secret: DiscoveryOptions['secret'], overrides: Partial<DiscoveryOptions> = {}): DiscoveryOptions {
  return { secret, interface: LOOPBACK_INTERFACE, ttl: 0, port: 0, probePort: 0, group: randomGroup(), ...overrides };
}

/** A valid announcement for proxy `proxyId` whose control plane is on `port`. */
export function announcementFor(proxyId: string, port = 3042, pin = randomBytes(32).toString('base64')): Announcement {
  return { proxyId, controlUrls: [`wss://${LOOPBACK_INTERFACE}:${port}/`], pin };
}

/**
 * A UDP port that was free on loopback a moment ago, for tests where senders must know the port before
 * any receiver binds it (receivers share it with SO_REUSEADDR, so a late collision cannot fail a bind).
 */
export async function freeUdpPort(): Promise<number> {
  const { createSocket } = await import('node:dgram');
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, LOOPBACK_INTERFACE, resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
