import { describe, expect, it } from '@jest/globals';
import {
  DEFAULT_BEACON_INTERVAL_MS,
  DEFAULT_BEACON_PORT,
  DEFAULT_DISCOVERY_GROUP,
  DEFAULT_MULTICAST_TTL,
  DEFAULT_PROBE_PORT,
  resolveDiscoveryOptions,
  type DiscoveryOptions,
} from '../../../src/shared/discovery/discovery-options.js';
import { jitteredInterval } from '../../../src/shared/discovery/beacon-sender.js';
import { resolveProbeTargets } from '../../../src/shared/discovery/probe-targets.js';
import { SourceRateLimiter } from '../../../src/shared/discovery/source-rate-limiter.js';
import { newSecret } from '../../helpers/discovery-loopback.js';

const secret = newSecret();

function invalid(options: Partial<DiscoveryOptions>): string {
  try {
    resolveDiscoveryOptions({ secret, ...options } as DiscoveryOptions);
  } catch (error) {
    return `${(error as { code: string }).code} ${(error as Error).message}`;
  }
  throw new Error('accepted');
}

describe('resolveDiscoveryOptions', () => {
  it('applies the documented defaults and freezes the result', () => {
    const resolved = resolveDiscoveryOptions({ secret });
    expect(resolved).toMatchObject({
      group: DEFAULT_DISCOVERY_GROUP,
      port: DEFAULT_BEACON_PORT,
      probePort: DEFAULT_PROBE_PORT,
      ttl: DEFAULT_MULTICAST_TTL,
      interface: undefined,
      broadcastOnly: false,
      bindAddress: DEFAULT_DISCOVERY_GROUP,
      intervalMs: DEFAULT_BEACON_INTERVAL_MS,
      jitter: 0.2,
      lifetimeIntervals: 3,
      lifetimeMs: 15_000,
      maxClockSkewMs: 30_000,
      maxProxies: 64,
      probeTimeoutMs: 1000,
    });
    expect(DEFAULT_DISCOVERY_GROUP.startsWith('239.255.')).toBe(true);
    expect(DEFAULT_MULTICAST_TTL).toBe(1);
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it('refuses a missing or weak secret with RP_ERR_CLUSTER_SECRET', () => {
    expect(invalid({ secret: undefined as never })).toMatch(/^RP_ERR_CLUSTER_SECRET discovery.secret/);
    expect(invalid({ secret: 'short' })).toContain('openssl rand -base64 32');
  });

  it('names each invalid option', () => {
    expect(invalid({ group: '127.0.0.1' })).toContain('group: expected an IPv4 multicast address');
    expect(invalid({ group: 'nope' })).toContain('group: expected an IPv4 address');
    expect(invalid({ interface: 'lo' })).toContain('interface: expected an IPv4 address');
    expect(invalid({ ttl: 256 })).toContain('ttl: expected an integer from 0 to 255');
    expect(invalid({ port: 70000 })).toContain('port:');
    expect(invalid({ intervalMs: 10 })).toContain('intervalMs:');
    expect(invalid({ jitter: 0.9 })).toContain('jitter: expected a number from 0 to 0.5');
    expect(invalid({ lifetimeIntervals: 1 })).toContain('lifetimeIntervals:');
    expect(invalid({ maxProxies: 0 })).toContain('maxProxies:');
    expect(invalid({ broadcastOnly: 'yes' as never })).toContain('broadcastOnly: expected a boolean');
    expect(invalid({ rateLimits: { perSourceBurst: 0 } })).toContain('rateLimits.perSourceBurst');
  });

  it('binds broadcast receivers to the wildcard unless told otherwise', () => {
    const { bindAddress } = resolveDiscoveryOptions({ secret, broadcastOnly: true });
    expect(bindAddress.split('.').map(Number)).toEqual([0, 0, 0, 0]);
  });
});

describe('jitteredInterval', () => {
  it('stays within interval × (1 ± jitter)', () => {
    expect(jitteredInterval(1000, 0.2, () => 0)).toBe(800);
    expect(jitteredInterval(1000, 0.2, () => 0.5)).toBe(1000);
    expect(jitteredInterval(1000, 0.2, () => 0.999999)).toBe(1200);
    expect(jitteredInterval(1000, 0, () => 0)).toBe(1000);
  });
});

describe('resolveProbeTargets', () => {
  it('expands a block without its network and broadcast addresses; /31 and /32 keep every address', () => {
    expect(resolveProbeTargets('127.0.0.0/30')).toEqual(['127.0.0.1', '127.0.0.2']);
    expect(resolveProbeTargets('127.0.0.9/31')).toEqual(['127.0.0.8', '127.0.0.9']);
    expect(resolveProbeTargets(['127.0.0.1/32', '127.0.0.1'])).toEqual(['127.0.0.1']);
    expect(resolveProbeTargets('127.1.2.3/24')).toHaveLength(254);
    expect(resolveProbeTargets('127.0.0.5, 127.0.0.6')).toEqual(['127.0.0.5', '127.0.0.6']);
  });

  it('refuses a block larger than /24, more than 256 addresses, bad entries and none', () => {
    expect(() => resolveProbeTargets('127.0.0.0/23')).toThrow('at most /24');
    expect(() => resolveProbeTargets(['127.1.0.0/24', '127.2.0.0/24'])).toThrow('at most 256');
    expect(() => resolveProbeTargets('127.0.0.1/x')).toThrow('at most /24');
    expect(() => resolveProbeTargets('localhost')).toThrow('IPv4');
    expect(() => resolveProbeTargets('::1')).toThrow('IPv4');
    expect(() => resolveProbeTargets('')).toThrow('at least one');
    expect(() => resolveProbeTargets(42)).toThrow('expected a list');
  });
});

describe('SourceRateLimiter', () => {
  it('allows a burst per source, refills over time, and caps all sources together', () => {
    let now = 0;
    const limiter = new SourceRateLimiter({ perSourcePerSecond: 10, perSourceBurst: 3, globalPerSecond: 4, maxSources: 2 }, () => now);
    expect([1, 2, 3, 4].map(() => limiter.allow('a'))).toEqual([true, true, true, false]);
    now += 100; // one token back for 'a'
    expect(limiter.allow('a')).toBe(true);
    expect(limiter.allow('b')).toBe(false); // the global bucket (4/s) is spent
    now += 1000;
    expect(limiter.allow('b')).toBe(true);
    limiter.allow('c');
    expect(limiter.size).toBe(2);
  });
});
