import { describe, expect, it } from '@jest/globals';
import { DEFAULT_RENEW_AT_FRACTION, resolveAcmeOptions } from '../../../src/proxy/acme/acme-options.js';
import { isProxyError } from '../../../src/shared/errors.js';
import { resolveProxyOptions } from '../../../src/proxy/proxy-options.js';

const URL = 'https://acme.example.test/dir';

function invalid(fn: () => unknown, name: string): void {
  try {
    fn();
  } catch (error) {
    expect(isProxyError(error, 'RP_ERR_INVALID_OPTION')).toBe(true);
    expect((error as Error).message).toContain(name);
    return;
  }
  throw new Error(`expected ${name} to be refused`);
}

describe('ACME options', () => {
  it('apply defaults and freeze', () => {
    const resolved = resolveAcmeOptions({ directoryUrl: URL });
    expect(resolved.renewAtFraction).toBe(DEFAULT_RENEW_AT_FRACTION);
    expect(resolved.termsOfServiceAgreed).toBe(true);
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it('refuse a directory URL that is not https', () => invalid(() => resolveAcmeOptions({ directoryUrl: 'http://acme.example.test/dir' }), 'acme.directoryUrl'));
  it('refuse a bad e-mail', () => invalid(() => resolveAcmeOptions({ directoryUrl: URL, email: 'not an address' }), 'acme.email'));
  it('refuse a renewal fraction out of range', () => invalid(() => resolveAcmeOptions({ directoryUrl: URL, renewAtFraction: 1 }), 'acme.renewAtFraction'));
  it('refuse a retry maximum below the minimum', () => invalid(() => resolveAcmeOptions({ directoryUrl: URL, retryMinMs: 5000, retryMaxMs: 1000 }), 'acme.retryMaxMs'));
  it('refuse a storage that is not one', () => invalid(() => resolveAcmeOptions({ directoryUrl: URL, storage: {} as never }), 'acme.storage'));
  it('need a fallback certificate on the proxy', () => invalid(() => resolveProxyOptions({ control: false, acme: { directoryUrl: URL } }), 'acme: needs `tls`'));
});
