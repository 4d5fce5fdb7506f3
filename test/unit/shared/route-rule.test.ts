import { describe, expect, it } from '@jest/globals';
import { normalizeHost, parseRule, ruleKey } from '../../../src/shared/routing/route-rule.js';

describe('parseRule', () => {
  it('normalises path rules', () => {
    expect(parseRule('/api')).toEqual({ path: '/api', host: undefined });
    expect(parseRule('/api/')).toEqual({ path: '/api', host: undefined });
    expect(parseRule('/')).toEqual({ path: '/', host: undefined });
    expect(parseRule('//api//v1')).toEqual({ path: '/api/v1', host: undefined });
    expect(parseRule('/%61pi')).toEqual({ path: '/api', host: undefined });
  });

  it('parses host rules, lower-casing and dropping the port', () => {
    expect(parseRule('Host.Example/api')).toEqual({ path: '/api', host: 'host.example' });
    expect(parseRule('host.example:8080/api/')).toEqual({ path: '/api', host: 'host.example' });
    expect(parseRule('[::1]:80/x')).toEqual({ path: '/x', host: '[::1]' });
    expect(parseRule({ path: '/api', host: 'A.example' })).toEqual({ path: '/api', host: 'a.example' });
    expect(parseRule({ path: '/api', host: '' })).toEqual({ path: '/api', host: undefined });
  });

  it('returns frozen rules', () => {
    expect(Object.isFrozen(parseRule('/api'))).toBe(true);
  });

  it.each([
    ['api', /needs a path/],
    ['host.example', /needs a path/],
    ['/api/../admin', /dot segments/],
    ['/api/./x', /dot segments/],
    ['/api x', /not allowed/],
    ['/api\\x', /not allowed/],
    ['/api/(.*)', /not regular expressions/],
    ['^/api$', /not regular expressions/],
    ['/api$', /not regular expressions/],
    ['/%zz', /malformed/],
    ['/a/..%2Fb', /malformed|traversal/],
    ['bad_host!/api', /not a valid host/],
    [`/${'a'.repeat(1100)}`, /longer than/],
  ])('refuses %j with RP_ERR_INVALID_OPTION', (input, message) => {
    expect(() => parseRule(input)).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION' }));
    expect(() => parseRule(input)).toThrow(message);
  });

  it('refuses malformed rule objects', () => {
    expect(() => parseRule({ path: 5 } as never)).toThrow(/expected a string or an object/);
    expect(() => parseRule(null as never)).toThrow(/expected a string or an object/);
    expect(() => parseRule({ path: '/a', host: 7 } as never)).toThrow(/host must be a string/);
  });
});

describe('ruleKey and normalizeHost', () => {
  it('formats keys', () => {
    expect(ruleKey({ path: '/api' })).toBe('/api');
    expect(ruleKey({ path: '/api', host: 'a.example' })).toBe('a.example/api');
  });

  it('normalises hosts', () => {
    expect(normalizeHost('Example.COM:8443')).toBe('example.com');
    expect(normalizeHost('example.com.')).toBe('example.com');
    expect(normalizeHost('[::1]:3000')).toBe('[::1]');
    expect(normalizeHost('  ')).toBeUndefined();
  });
});
