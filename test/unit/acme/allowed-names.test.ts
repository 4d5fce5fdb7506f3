import { describe, expect, it } from '@jest/globals';
import { allowedCertificateNames, isCertificateNameAllowed } from '../../../src/proxy/acme/allowed-names.js';
import { certificateName } from '../../../src/proxy/acme/certificate-name.js';

describe('certificateName', () => {
  it('normalises case and a trailing dot', () => {
    expect(certificateName('API.Example.COM.')).toBe('api.example.com');
  });
  it.each([
    ['a wildcard', '*.example.com'],
    ['an IPv4 address', '127.0.0.1'],
    ['an IPv6 address', '::1'],
    ['a single label', 'localhost'],
    ['a path', '../etc/passwd'],
    ['an empty label', 'a..example.com'],
    ['a label starting with a dash', '-a.example.com'],
    ['an underscore', 'a_b.example.com'],
    ['a name longer than 253 characters', `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`],
    ['a non-string', 42],
  ])('refuses %s', (_what, value) => {
    expect(certificateName(value)).toBeUndefined();
  });
});

describe('allowed certificate names', () => {
  const keys = [
    { scope: { rules: ['api.example.com/v1', 'Shop.Example.com:8443/cart', '/everywhere'] } },
    { scope: { rules: ['[::1]/x', '10.0.0.1/y'] } },
    { scope: {} },
  ];

  it('are the hosts of host-bound scope rules, without port, never IPs or path-only rules', () => {
    expect([...allowedCertificateNames(keys)].sort()).toEqual(['api.example.com', 'shop.example.com']);
  });

  it('allow nothing without keys', () => {
    expect(allowedCertificateNames(undefined).size).toBe(0);
    expect(isCertificateNameAllowed(undefined, 'api.example.com')).toBe(false);
  });

  it('refuse a name outside every scope, even a subdomain of an allowed one', () => {
    expect(isCertificateNameAllowed(keys, 'api.example.com')).toBe(true);
    expect(isCertificateNameAllowed(keys, 'evil.api.example.com')).toBe(false);
    expect(isCertificateNameAllowed(keys, 'example.com')).toBe(false);
  });
});
