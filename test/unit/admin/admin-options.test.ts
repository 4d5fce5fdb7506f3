import { describe, it, expect } from '@jest/globals';
import {
  DEFAULT_ADMIN_AUDIENCE,
  DEFAULT_ADMIN_HOST,
  DEFAULT_ADMIN_PORT,
  isLoopbackHost,
  resolveAdminOptions,
} from '../../../src/proxy/admin/admin-options.js';
import { resolveProxyOptions } from '../../../src/proxy/proxy-options.js';

describe('resolveAdminOptions', () => {
  it('defaults to 127.0.0.1:3090 without auth, 5 s samples, 60 samples, 200 events, frozen', () => {
    const options = resolveAdminOptions({});
    expect(options).toEqual({
      host: DEFAULT_ADMIN_HOST,
      port: DEFAULT_ADMIN_PORT,
      requireAuth: false,
      audience: DEFAULT_ADMIN_AUDIENCE,
      allowedHosts: [],
      sampleIntervalMs: 5000,
      historySamples: 60,
      eventBufferSize: 200,
    });
    expect(Object.isFrozen(options)).toBe(true);
  });

  it('requires auth by default on a non-loopback host', () => {
    expect(resolveAdminOptions({ host: '0.0.0.0' }).requireAuth).toBe(true);
    expect(resolveAdminOptions({ host: '::' }).requireAuth).toBe(true);
    expect(resolveAdminOptions({ host: 'admin.example' }).requireAuth).toBe(true);
  });

  it('refuses requireAuth: false on a non-loopback host', () => {
    expect(() => resolveAdminOptions({ host: '0.0.0.0', requireAuth: false })).toThrow(/admin\.requireAuth: cannot be false/);
  });

  it('allows requireAuth: true on loopback', () => {
    expect(resolveAdminOptions({ requireAuth: true }).requireAuth).toBe(true);
  });

  it.each([
    [{ port: -1 }, /admin\.port: expected an integer from 0 to 65535/],
    [{ port: 70000 }, /admin\.port/],
    [{ port: 1.5 }, /admin\.port/],
    [{ sampleIntervalMs: 10 }, /admin\.sampleIntervalMs: expected an integer from 100 to 60000/],
    [{ historySamples: 1 }, /admin\.historySamples/],
    [{ eventBufferSize: 0 }, /admin\.eventBufferSize/],
    [{ host: '' }, /admin\.host/],
    [{ host: 'a b' }, /admin\.host/],
    [{ audience: '' }, /admin\.audience/],
    [{ requireAuth: 'yes' as unknown as boolean }, /admin\.requireAuth: expected a boolean/],
  ])('refuses %j with RP_ERR_INVALID_OPTION', (input, message) => {
    expect(() => resolveAdminOptions(input)).toThrow(message);
    try {
      resolveAdminOptions(input);
    } catch (error) {
      expect((error as { code: string }).code).toBe('RP_ERR_INVALID_OPTION');
    }
  });

  it('refuses a non-object', () => {
    expect(() => resolveAdminOptions(null as unknown as object)).toThrow(/admin: expected an options object or false/);
  });
});

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.1.2.3', '::1', 'localhost'])('%s is loopback', (host) => expect(isLoopbackHost(host)).toBe(true));
  it.each(['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '127.example.com', 'example.com'])('%s is not', (host) => expect(isLoopbackHost(host)).toBe(false));
});

describe('ProxyServer admin option', () => {
  it('is off unless given, and validated when given', () => {
    expect(resolveProxyOptions({ control: false }).admin).toBeUndefined();
    expect(resolveProxyOptions({ control: false, admin: false }).admin).toBeUndefined();
    expect(resolveProxyOptions({ control: false, admin: { port: 0 } }).admin).toMatchObject({ host: '127.0.0.1', port: 0 });
    expect(() => resolveProxyOptions({ control: false, admin: { port: -5 } })).toThrow(/admin\.port/);
  });
});
