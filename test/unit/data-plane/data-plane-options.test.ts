import { describe, expect, it } from '@jest/globals';
import {
  DEFAULT_NO_TARGET_STATUS,
  DEFAULT_PORT,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  resolveDataPlaneOptions,
} from '../../../src/proxy/data-plane/data-plane-options.js';
import { resolveProxyOptions } from '../../../src/proxy/proxy-options.js';

describe('data-plane options', () => {
  it('applies the defaults and freezes the result', () => {
    const options = resolveDataPlaneOptions();
    expect(options.port).toBe(DEFAULT_PORT);
    expect(options.host).toBe('0.0.0.0');
    expect(options.noTargetStatus).toBe(DEFAULT_NO_TARGET_STATUS);
    expect(options.shutdownTimeoutMs).toBe(DEFAULT_SHUTDOWN_TIMEOUT_MS);
    expect(options.retry).toBe(true);
    expect(options.accessLog).toBe(false);
    expect(options.tls).toBeUndefined();
    expect(Object.isFrozen(options)).toBe(true);
    expect(options.affinity).toBe('none');
    expect(options.affinitySecret.length).toBe(32);
  });

  it('keeps the affinity settings and a given secret', () => {
    const options = resolveDataPlaneOptions({ affinity: 'hash', affinityHeader: 'X-Tenant', affinitySecret: 'a shared secret of the fleet' });
    expect(options.affinity).toBe('hash');
    expect(options.affinityHeader).toBe('x-tenant');
    expect(options.affinitySecret.toString()).toBe('a shared secret of the fleet');
  });

  it.each([
    [{ port: -1 }, /port must be an integer from 0 to 65535/],
    [{ tlsPort: 1.5 }, /tlsPort must be an integer/],
    [{ noTargetStatus: 200 }, /noTargetStatus must be an integer from 400 to 599/],
    [{ connectTimeoutMs: 0 }, /connectTimeoutMs/],
    [{ retry: 'yes' }, /retry must be a boolean/],
    [{ host: 'bad host' }, /host must be/],
    [{ tls: { cert: '', key: 'k' } }, /tls.cert must be a non-empty PEM/],
    [{ trustedProxies: 'x' }, /trustedProxies must be an array/],
    [{ clientHeadersTimeoutMs: 10_000, clientRequestTimeoutMs: 5_000 }, /must not exceed clientRequestTimeoutMs/],
    [{ logger: {} }, /logger must be a pino Logger/],
    [{ affinity: 'sticky' }, /affinity must be 'none', 'cookie' or 'hash'/],
    [{ affinity: 'cookie', affinityHeader: 'x-user' }, /affinityHeader needs affinity: 'hash'/],
    [{ affinity: 'hash', affinityHeader: 'bad header' }, /affinityHeader must be a header name/],
    [{ affinitySecret: 'short' }, /affinitySecret must be a string or Buffer of at least 16 bytes/],
    [{ bodyTimeoutMs: -1 }, /bodyTimeoutMs/],
  ])('refuses %j with RP_ERR_INVALID_OPTION', (options, message) => {
    expect(() => resolveDataPlaneOptions(options as never)).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION' }));
    expect(() => resolveDataPlaneOptions(options as never)).toThrow(message);
  });
});

describe('proxy options', () => {
  it('groups the data-plane options', () => {
    const options = resolveProxyOptions({ port: 0, control: false });
    expect(options.dataPlane.port).toBe(0);
    expect(Object.isFrozen(options)).toBe(true);
  });

  it('fails with a hint on options of the original', () => {
    expect(() => resolveProxyOptions({ proxySelector: {} } as never)).toThrow(/"proxySelector" was removed: use `selector`/);
    expect(() => resolveProxyOptions((() => true) as never)).toThrow(/origin-validator callback/);
  });
});
