import { describe, it, expect } from '@jest/globals';
import http from 'node:http';
import { resolveAgentOptions, type ProxyWebServerOptions } from '../../../src/webserver-agent/agent-options.js';
import { normalizePin } from '../../../src/shared/control-client/proxy-tls.js';

const PIN = 'x'.repeat(43) + '=';
const base: ProxyWebServerOptions = { proxyUrl: 'wss://127.0.0.1:3042', agentId: 'WEB001', key: '/tmp/WEB001.key.json', server: http.createServer(), rules: ['/api'] };

describe('resolveAgentOptions', () => {
  it('applies the documented defaults and freezes', () => {
    const resolved = resolveAgentOptions(base);
    expect(resolved.audience).toBeUndefined();
    expect(resolved).toMatchObject({
      host: '127.0.0.1',
      port: 0,
      requestTimeoutMs: 10_000,
      drainTimeoutMs: 30_000,
      closeGraceMs: 5000,
      handshakeTimeoutMs: 10_000,
      idleTimeoutMs: 15_000,
      tokenTtlSeconds: 60,
      insecure: false,
      reconnect: { initialDelayMs: 250, maxDelayMs: 10_000, factor: 2, jitter: 0.5 },
    });
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it.each([
    [{ proxyUrl: 'http://x' }, 'proxyUrl'],
    [{ proxyUrl: 'not a url' }, 'proxyUrl'],
    [{ proxyUrl: 'ws://127.0.0.1:1' }, 'proxyUrl'],
    [{ agentId: '../etc' }, 'invalid id'],
    [{ key: 42 }, 'key'],
    [{ rules: [] }, 'rules'],
    [{ rules: [''] }, 'rules[0]'],
    [{ rules: [{ path: 5 }] }, 'rules[0].path'],
    [{ weight: 0 }, 'weight'],
    [{ port: 70_000 }, 'port'],
    [{ meta: { a: 1 } }, 'meta.a'],
    [{ pin: 'short' }, 'pin'],
    [{ pin: PIN, insecure: true }, 'exclusive'],
    [{ pin: PIN, ca: 'x.pem' }, 'exclusive'],
    [{ server: undefined }, 'target'],
    [{ server: undefined, target: { host: 'h' } }, 'target'],
    [{ target: { protocol: 'ftp' } }, 'target.protocol'],
    [{ reconnect: { factor: 0 } }, 'reconnect.factor'],
    [{ requestTimeoutMs: 1 }, 'requestTimeoutMs'],
    [{ tokenTtlSeconds: 121 }, 'tokenTtlSeconds'],
    [{ server: {} }, 'server'],
    [{ proxyUrl: [] }, 'proxyUrl: expected 1 to 64 proxies'],
    [{ proxyUrl: ['wss://a:1', 'http://b:1'] }, 'proxyUrl[1]'],
    [{ proxyUrl: ['wss://a:1', 'wss://a:1/'] }, 'proxyUrl[1]: wss://a:1/ is listed twice'],
    [{ proxyUrl: ['wss://a:1', { url: 'wss://b:1', pin: 'short' }] }, 'proxyUrl[1]: pin'],
    [{ proxyUrl: ['wss://a:1', 42] }, 'proxyUrl[1]: expected'],
    [{ proxyUrl: ['wss://a:1', 'wss://b:1'], minAcks: 3 }, 'minAcks'],
    [{ startTimeoutMs: 0 }, 'startTimeoutMs'],
  ])('rejects %j (names %s)', (override, name) => {
    expect(() => resolveAgentOptions({ ...base, ...(override as Partial<ProxyWebServerOptions>) })).toThrow(expect.objectContaining({ message: expect.stringContaining(name) }));
  });

  it('resolves several proxies, each with the top-level verification unless it brings its own', () => {
    const other = 'y'.repeat(43) + '=';
    const resolved = resolveAgentOptions({ ...base, pin: PIN, proxyUrl: ['wss://a:1', { url: 'wss://b:2', pin: other }, { url: 'ws://c:3', insecure: true }], minAcks: 2, startTimeoutMs: 5000 });
    expect(resolved.proxies.map((proxy) => [proxy.proxyUrl, proxy.connection.pins, proxy.connection.insecure])).toEqual([
      ['wss://a:1', [PIN], false],
      ['wss://b:2', [other], false],
      ['ws://c:3', undefined, true],
    ]);
    expect(resolved).toMatchObject({ minAcks: 2, startTimeoutMs: 5000, pins: [PIN] });
    expect(resolved.proxyUrl.href).toBe('wss://a:1/');
    expect(resolveAgentOptions(base)).toMatchObject({ minAcks: 1, startTimeoutMs: undefined });
  });

  it('accepts ws:// with insecure, a target without server, and several pins', () => {
    expect(resolveAgentOptions({ ...base, proxyUrl: 'ws://127.0.0.1:1', insecure: true }).insecure).toBe(true);
    expect(resolveAgentOptions({ ...base, server: undefined, target: { host: '127.0.0.1', port: 8080 } }).target).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(resolveAgentOptions({ ...base, pin: [PIN, `sha256//${PIN}`] }).pins).toEqual([PIN, PIN]);
  });
});

describe('normalizePin', () => {
  it('accepts base64 SHA-256 pins with or without sha256//', () => {
    expect(normalizePin(PIN)).toBe(PIN);
    expect(normalizePin(`sha256//${PIN}`)).toBe(PIN);
    expect(normalizePin(` ${PIN} `)).toBe(PIN);
  });

  it('refuses anything else', () => {
    for (const value of [undefined, 5, '', 'abc', `${PIN}=`, 'x'.repeat(44)]) expect(normalizePin(value)).toBeUndefined();
  });
});
