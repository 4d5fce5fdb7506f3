import { describe, expect, it } from '@jest/globals';
import { normalizePath, normalizeTarget, pathEnd, splitAbsoluteForm } from '../../../src/shared/routing/path-normalizer.js';

describe('normalizeTarget', () => {
  it('returns a clean target unchanged (the same string)', () => {
    const target = '/api/v1/items?q=1';
    expect(normalizeTarget(target)).toBe(target);
    expect(normalizeTarget('/')).toBe('/');
  });

  it('resolves dot segments', () => {
    expect(normalizeTarget('/api/../admin')).toBe('/admin');
    expect(normalizeTarget('/api/./x')).toBe('/api/x');
    expect(normalizeTarget('/a/b/../../c')).toBe('/c');
    expect(normalizeTarget('/../../etc/passwd')).toBe('/etc/passwd');
    expect(normalizeTarget('/api/..')).toBe('/');
    expect(normalizeTarget('/api/x/..')).toBe('/api/');
  });

  it('collapses empty segments and keeps a trailing slash', () => {
    expect(normalizeTarget('//api///x/')).toBe('/api/x/');
    expect(normalizeTarget('/api/')).toBe('/api/');
  });

  it('decodes percent-encoded unreserved characters only', () => {
    expect(normalizeTarget('/%61pi/%7Euser')).toBe('/api/~user');
    expect(normalizeTarget('/api/%2e%2E/admin')).toBe('/admin');
    expect(normalizeTarget('/a%20b/%c3%a9')).toBe('/a%20b/%C3%A9');
    expect(normalizeTarget('/files/a%2Fb')).toBe('/files/a%2Fb');
  });

  it('keeps the query untouched and drops a fragment', () => {
    expect(normalizeTarget('/a/../b?x=/../y&z=%zz')).toBe('/b?x=/../y&z=%zz');
    expect(normalizeTarget('/a#frag')).toBe('/a');
    expect(normalizeTarget('/a/./b#frag')).toBe('/a/b');
  });

  it('refuses malformed percent-encoding', () => {
    expect(normalizeTarget('/api/%zz')).toBeUndefined();
    expect(normalizeTarget('/api/%2')).toBeUndefined();
    expect(normalizeTarget('/api/%')).toBeUndefined();
  });

  it('refuses dot segments hidden behind an encoded slash or a backslash', () => {
    expect(normalizeTarget('/api/..%2Fadmin')).toBeUndefined();
    expect(normalizeTarget('/api/..%2fadmin')).toBeUndefined();
    expect(normalizeTarget('/api/..%5Cadmin')).toBeUndefined();
    expect(normalizeTarget('/api/..\\admin')).toBeUndefined();
    expect(normalizeTarget('/api/%2e%2e%2fadmin')).toBeUndefined();
  });

  it('refuses targets that are not origin-form', () => {
    expect(normalizeTarget('*')).toBeUndefined();
    expect(normalizeTarget('http://example.com/')).toBeUndefined();
    expect(normalizeTarget('')).toBeUndefined();
  });
});

describe('pathEnd and normalizePath', () => {
  it('finds the end of the path', () => {
    expect(pathEnd('/a/b?c')).toBe(4);
    expect(pathEnd('/a/b')).toBe(4);
    expect(pathEnd('/a#b')).toBe(2);
  });

  it('normalises a bare path', () => {
    expect(normalizePath('/x/./y/../z')).toBe('/x/z');
  });
});

describe('splitAbsoluteForm', () => {
  it('splits http and https absolute-form targets', () => {
    expect(splitAbsoluteForm('http://Shop.example:8080/a/b?q=1')).toEqual({ authority: 'Shop.example:8080', target: '/a/b?q=1' });
    expect(splitAbsoluteForm('HTTPS://shop.example')).toEqual({ authority: 'shop.example', target: '/' });
    expect(splitAbsoluteForm('http://shop.example?x')).toEqual({ authority: 'shop.example', target: '/?x' });
  });

  it('refuses other schemes, empty authorities and userinfo', () => {
    expect(splitAbsoluteForm('ftp://a/b')).toBeUndefined();
    expect(splitAbsoluteForm('http:///b')).toBeUndefined();
    expect(splitAbsoluteForm('http://user@evil.example/b')).toBeUndefined();
    expect(splitAbsoluteForm('*')).toBeUndefined();
  });
});
