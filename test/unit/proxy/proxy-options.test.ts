import { describe, expect, it } from '@jest/globals';
import { DEFAULT_CERTSTORE_DIR, resolveProxyOptions } from '../../../src/proxy/proxy-options.js';

const tls = { cert: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n', key: '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n' };

describe('resolveProxyOptions: control plane', () => {
  it('shares the data plane certificate with the control plane by default', () => {
    const options = resolveProxyOptions({ tls, control: { port: 0 } });
    expect(options.control?.tls).toBe(options.dataPlane.tls);
    expect(options.control?.port).toBe(0);
  });

  it('keeps a control-plane certificate of its own', () => {
    const own = { cert: 'c', key: 'k' };
    expect(resolveProxyOptions({ tls, control: { tls: own } }).control?.tls).toBe(own);
  });

  it('refuses a control plane without a certificate, naming the three ways out', () => {
    expect(() => resolveProxyOptions({})).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION' }));
    expect(() => resolveProxyOptions({})).toThrow(/`tls`.*`control: \{ insecure: true \}`.*`control: false`/);
  });

  it('allows plain ws only when asked explicitly', () => {
    expect(resolveProxyOptions({ control: { insecure: true } }).control).toMatchObject({ insecure: true, tls: undefined });
  });

  it('disables the control plane with control: false', () => {
    expect(resolveProxyOptions({ control: false }).control).toBeUndefined();
  });

  it.each([[null], ['yes'], [[]]])('rejects control=%p', (control) => {
    expect(() => resolveProxyOptions({ control: control as never })).toThrow(/control: expected an options object or false/);
  });

  it('defaults the certstore directory and rejects an empty one', () => {
    expect(resolveProxyOptions({ control: false }).certstore).toBe(DEFAULT_CERTSTORE_DIR);
    expect(() => resolveProxyOptions({ control: false, certstore: '' })).toThrow(/certstore/);
  });

  it('rejects a trustStore that is not one', () => {
    expect(() => resolveProxyOptions({ control: false, trustStore: {} as never })).toThrow(/trustStore: expected a TrustStore/);
  });

  it('names the replacement of the original wsServerMount option', () => {
    expect(() => resolveProxyOptions({ wsServerMount: {} } as never)).toThrow(/"wsServerMount" was removed: use `control`/);
  });
});
