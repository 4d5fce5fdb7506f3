import { describe, expect, it } from '@jest/globals';
import { hostname } from 'node:os';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { advertisedUrls } from '../../../src/proxy/fleet/proxy-fleet.js';
import { isRedisTrustOption, resolveFleetOptions } from '../../../src/proxy/fleet/fleet-options.js';
import { createMemoryTrustStore } from '../../../src/shared/trust/memory-trust-store.js';
import { trustStaleness } from '../../../src/shared/trust/trust-staleness.js';

const URL = 'redis://127.0.0.1:6379';

describe('trustStore: { redis } options', () => {
  it('applies defaults: prefix inteli:, 30 s staleness, node id <host>-<control port>, 5 s membership TTL', () => {
    const resolved = resolveFleetOptions({ url: URL }, 3042);
    expect(resolved).toMatchObject({ trustMaxStalenessMs: 30_000, membershipTtlMs: 5000, advertiseHost: hostname() });
    expect(resolved.connection).toMatchObject({ url: URL, prefix: 'inteli:' });
    expect(resolved.nodeId).toMatch(/-3042$/);
    expect(Object.isFrozen(resolved)).toBe(true);
    // Port 0 (tests) cannot name a node: a random suffix keeps ids distinct.
    expect(resolveFleetOptions({ url: URL }, 0).nodeId).not.toBe(resolveFleetOptions({ url: URL }, 0).nodeId);
  });

  it.each([
    [{ url: 'http://x' }, /trustStore\.redis\.url/],
    [{ url: URL, prefix: 'a b' }, /trustStore\.redis\.prefix/],
    [{ url: URL, trustMaxStalenessMs: 999 }, /trustMaxStalenessMs/],
    [{ url: URL, nodeId: '../etc' }, /trustStore\.redis\.nodeId/],
    [{ url: URL, advertiseHost: 'bad host' }, /advertiseHost/],
    [{ url: URL, membershipTtlMs: 100 }, /membershipTtlMs/],
  ])('refuses %j naming the option', (options, message) => {
    expect(() => resolveFleetOptions(options, 3042)).toThrow(message);
  });

  it('fails at new ProxyServer, before anything is bound, for a bad Redis URL', () => {
    expect(() => new ProxyServer({ control: { insecure: true, port: 0 }, trustStore: { redis: { url: 'nope' } } })).toThrow(
      expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION', message: expect.stringContaining('trustStore.redis.url') }),
    );
  });

  it('tells a { redis } option from a TrustStore object', () => {
    expect(isRedisTrustOption({ redis: { url: URL } })).toBe(true);
    expect(isRedisTrustOption(createMemoryTrustStore())).toBe(false);
  });

  it('announces wildcard binds under advertiseHost and IPv6 in brackets', () => {
    expect(
      advertisedUrls(
        { control: { address: '0.0.0.0', port: 3042, family: 'IPv4' }, http: { address: '::1', port: 3080, family: 'IPv6' }, admin: { address: '127.0.0.1', port: 3090, family: 'IPv4' } },
        'proxy-a.internal',
        true,
      ),
    ).toEqual(['wss://proxy-a.internal:3042', 'http://[::1]:3080', 'http://127.0.0.1:3090']);
  });

  it('without Redis nothing changes: a lone proxy lists itself, its store is never stale', () => {
    const store = createMemoryTrustStore();
    const proxy = new ProxyServer({ control: false, trustStore: store });
    expect(proxy.fleet).toBeUndefined();
    expect(proxy.fleetSummary()).toMatchObject({ shared: false, trust: { kind: 'memory', ok: true }, nodes: [{ id: 'local', self: true }] });
    expect(trustStaleness(store)).toBeUndefined();
  });
});
