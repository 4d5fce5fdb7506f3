import { describe, expect, it } from '@jest/globals';
import { AdminHostCheck, hostName } from '../../../src/proxy/admin/admin-host-check.js';
import { resolveAdminOptions } from '../../../src/proxy/admin/admin-options.js';

describe('admin Host check (issue 14: DNS rebinding)', () => {
  it('extracts the host name of a Host header', () => {
    expect(hostName('LocalHost:3090')).toBe('localhost');
    expect(hostName('[::1]:3090')).toBe('::1');
    expect(hostName('proxy.internal.')).toBe('proxy.internal');
    expect(hostName('')).toBeUndefined();
    expect(hostName(undefined)).toBeUndefined();
    expect(hostName('[::1')).toBeUndefined();
  });

  it('fix-issue-14-dns-rebinding: allows loopback names and configured hosts only', () => {
    const check = new AdminHostCheck(['Proxy.Internal']);
    for (const host of ['localhost', '127.0.0.1:3090', '127.1.2.3', '[::1]:3090', 'proxy.internal:3090']) expect({ host, ok: check.allows(host) }).toEqual({ host, ok: true });
    for (const host of ['rebind.attacker.example', '10.0.0.1', 'localhost.attacker.example', '', undefined]) expect({ host, ok: check.allows(host) }).toEqual({ host, ok: false });
  });

  it('validates admin.allowedHosts', () => {
    expect(resolveAdminOptions({ allowedHosts: ['A.example'] }).allowedHosts).toEqual(['a.example']);
    expect(() => resolveAdminOptions({ allowedHosts: ['bad host'] })).toThrow(/admin.allowedHosts/);
    expect(() => resolveAdminOptions({ allowedHosts: 'x' as never })).toThrow(/admin.allowedHosts/);
  });
});
