import { describe, expect, it } from '@jest/globals';
import { trustedProxies } from '../../../src/proxy/data-plane/trusted-proxies.js';

describe('trustedProxies', () => {
  const trusted = trustedProxies(['10.0.0.0/8', '192.168.1.10', '::1', 'fd00::/8']);

  it('matches IPs and CIDRs, including IPv4-mapped IPv6 peers', () => {
    expect(trusted.has('10.20.30.40')).toBe(true);
    expect(trusted.has('::ffff:10.1.1.1')).toBe(true);
    expect(trusted.has('192.168.1.10')).toBe(true);
    expect(trusted.has('192.168.1.11')).toBe(false);
    expect(trusted.has('::1')).toBe(true);
    expect(trusted.has('fd12::1')).toBe(true);
    expect(trusted.has('2001:db8::1')).toBe(false);
    expect(trusted.has(undefined)).toBe(false);
  });

  it('is empty without entries', () => {
    const empty = trustedProxies([]);
    expect(empty.empty).toBe(true);
    expect(empty.has('127.0.0.1')).toBe(false);
  });

  it.each(['not-an-ip', '10.0.0.0/33', '::1/129', '10.0.0.0/8/1', '10.0.0.0/x'])('refuses %j with RP_ERR_INVALID_OPTION', (entry) => {
    expect(() => trustedProxies([entry])).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION' }));
  });
});
