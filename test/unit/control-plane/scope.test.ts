import { describe, expect, it } from '@jest/globals';
import { AddressMatcher, isLoopback, normalizeIp, parseCidr } from '../../../src/proxy/control-plane/address.js';
import { parseKeyScope } from '../../../src/shared/trust/index.js';
import { compileScope, isWithinPath, ruleInScope, splitHostPort, targetInScope } from '../../../src/proxy/control-plane/scope.js';

describe('normalizeIp', () => {
  it('normalises mapped, bracketed, zoned and long-form addresses', () => {
    expect(normalizeIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeIp('::FFFF:7f00:1')).toBe('127.0.0.1');
    expect(normalizeIp('[::1]')).toBe('::1');
    expect(normalizeIp('fe80::1%eth0')).toBe('fe80::1');
    expect(normalizeIp('2001:0db8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
  });

  it('returns undefined for names', () => {
    expect(normalizeIp('localhost')).toBeUndefined();
    expect(normalizeIp('10.0.0.256')).toBeUndefined();
  });
});

describe('parseCidr and AddressMatcher', () => {
  it('parses IPv4 and IPv6 networks and refuses bad prefixes', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ network: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseCidr('fd00::/8')).toEqual({ network: 'fd00::', prefix: 8, family: 'ipv6' });
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('10.0.0.0/x')).toBeUndefined();
    expect(parseCidr('10.0.0.0')).toBeUndefined();
  });

  it('matches addresses and networks of both families', () => {
    const matcher = new AddressMatcher();
    expect(matcher.add('10.1.0.0/16')).toBe(true);
    expect(matcher.add('fd00::/8')).toBe(true);
    expect(matcher.add('192.168.1.7')).toBe(true);
    expect(matcher.add('backend.local')).toBe(false);
    expect(matcher.has('10.1.200.3')).toBe(true);
    expect(matcher.has('10.2.0.1')).toBe(false);
    expect(matcher.has('fd12::5')).toBe(true);
    expect(matcher.has('fe80::1')).toBe(false);
    expect(matcher.has('192.168.1.7')).toBe(true);
    expect(matcher.has('192.168.1.8')).toBe(false);
  });

  it('knows loopback', () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('127.9.9.9')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
  });
});

describe('rule scope', () => {
  const scope = compileScope({ rules: ['/api', 'shop.example.com/cart', 'bad rule'] });

  it('matches on segment boundaries only', () => {
    expect(isWithinPath('/api', '/api')).toBe(true);
    expect(isWithinPath('/api/v1', '/api')).toBe(true);
    expect(isWithinPath('/apix', '/api')).toBe(false);
    expect(isWithinPath('/anything', '/')).toBe(true);
  });

  it('allows rules below a scope rule; a host-less scope rule allows host-less rules only', () => {
    expect(ruleInScope(scope, { path: '/api/v2' })).toBe(true);
    expect(ruleInScope(scope, { path: '/api', host: 'x.example.com' })).toBe(false);
    expect(ruleInScope(scope, { path: '/' })).toBe(false);
    expect(ruleInScope(scope, { path: '/apix' })).toBe(false);
  });

  it('fix-issue-14-host-bound-takeover: a host-less grant claims host-bound rules only with anyHost', () => {
    // The review's shape: a key granted /v1 for any host registered api.example.com/v1/login.
    const broad = compileScope({ rules: ['/v1'] });
    expect(ruleInScope(broad, { path: '/v1/login', host: 'api.example.com' })).toBe(false);
    expect(ruleInScope(broad, { path: '/v1/login' })).toBe(true);
    const explicit = compileScope({ rules: ['/v1'], anyHost: true });
    expect(explicit.anyHost).toBe(true);
    expect(ruleInScope(explicit, { path: '/v1/login', host: 'api.example.com' })).toBe(true);
    expect(ruleInScope(explicit, { path: '/v2', host: 'api.example.com' })).toBe(false);
  });

  it('parses scope.anyHost as a boolean, storing only true', () => {
    expect(parseKeyScope({ rules: ['/v1'], anyHost: true })).toEqual({ rules: ['/v1'], anyHost: true });
    expect(parseKeyScope({ rules: ['/v1'], anyHost: false })).toEqual({ rules: ['/v1'] });
    expect(() => parseKeyScope({ anyHost: 'yes' })).toThrow(/scope.anyHost: expected a boolean/);
  });

  it('requires the host when the scope rule names one', () => {
    expect(ruleInScope(scope, { path: '/cart/1', host: 'shop.example.com' })).toBe(true);
    expect(ruleInScope(scope, { path: '/cart' })).toBe(false);
    expect(ruleInScope(scope, { path: '/cart', host: 'evil.example.com' })).toBe(false);
  });

  it('drops entries that do not parse and allows nothing without rules', () => {
    expect(scope.rules).toHaveLength(2);
    expect(ruleInScope(compileScope({}), { path: '/api' })).toBe(false);
  });

  it('compiles a scope object once', () => {
    const frozen = Object.freeze({ rules: ['/a'] });
    expect(compileScope(frozen)).toBe(compileScope(frozen));
  });
});

describe('target scope', () => {
  it('defaults to the agent socket address only', () => {
    const scope = compileScope({});
    expect(targetInScope(scope, { host: '10.0.0.7', port: 8080 }, '10.0.0.7')).toBe(true);
    expect(targetInScope(scope, { host: '10.0.0.7', port: 8080 }, '::ffff:10.0.0.7')).toBe(true);
    expect(targetInScope(scope, { host: '10.0.0.8', port: 8080 }, '10.0.0.7')).toBe(false);
    expect(targetInScope(scope, { host: 'localhost', port: 8080 }, '10.0.0.7')).toBe(false);
    expect(targetInScope(scope, { host: '10.0.0.7', port: 8080 }, undefined)).toBe(false);
  });

  it('fix-issue-14-loopback-agent-ports: a loopback agent without hosts may name nothing; with host:port grants, only those ports', () => {
    const none = compileScope({});
    for (const host of ['127.0.0.1', '::1', 'localhost', '127.0.0.2', '::ffff:127.0.0.1', '169.254.169.254']) {
      expect({ host, ok: targetInScope(none, { host, port: 8080 }, '::ffff:127.0.0.1') }).toEqual({ host, ok: false });
    }
    const granted = compileScope({ hosts: ['127.0.0.1:8080', '[::1]:9090', 'localhost:7070'] });
    expect(targetInScope(granted, { host: '127.0.0.1', port: 8080 }, '127.0.0.1')).toBe(true);
    expect(targetInScope(granted, { host: '::ffff:127.0.0.1', port: 8080 }, '127.0.0.1')).toBe(true);
    expect(targetInScope(granted, { host: '127.0.0.1', port: 3090 }, '127.0.0.1')).toBe(false);
    expect(targetInScope(granted, { host: '::1', port: 9090 }, '127.0.0.1')).toBe(true);
    expect(targetInScope(granted, { host: '[::1]', port: 9091 }, '127.0.0.1')).toBe(false);
    expect(targetInScope(granted, { host: 'LOCALHOST', port: 7070 }, '127.0.0.1')).toBe(true);
    expect(targetInScope(granted, { host: '127.0.0.2', port: 8080 }, '127.0.0.1')).toBe(false);
  });

  it('splits host:port scope entries, and not bare IPv6 addresses', () => {
    expect(splitHostPort('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(splitHostPort('[::1]:8080')).toEqual({ host: '::1', port: 8080 });
    expect(splitHostPort('Backend.Local.:80')).toEqual({ host: 'backend.local', port: 80 });
    expect(splitHostPort('::1')).toBeUndefined();
    expect(splitHostPort('10.0.0.0/8')).toBeUndefined();
    expect(splitHostPort('host:0')).toBeUndefined();
    expect(splitHostPort('host:70000')).toBeUndefined();
  });

  it('uses the listed names, addresses and networks instead of the default when hosts are given', () => {
    const scope = compileScope({ hosts: ['10.0.0.0/24', 'fd00::/8', 'api.internal', 'Backend.Example.'] });
    expect(targetInScope(scope, { host: '10.0.0.99', port: 8080 }, '192.168.0.1')).toBe(true);
    expect(targetInScope(scope, { host: '10.0.1.1', port: 8080 }, '10.0.1.1')).toBe(false);
    expect(targetInScope(scope, { host: 'fd00::1', port: 8080 }, '192.168.0.1')).toBe(true);
    expect(targetInScope(scope, { host: 'api.internal', port: 8080 }, '192.168.0.1')).toBe(true);
    expect(targetInScope(scope, { host: 'backend.example', port: 8080 }, '192.168.0.1')).toBe(true);
    expect(targetInScope(scope, { host: 'other.internal', port: 8080 }, '192.168.0.1')).toBe(false);
  });
});
