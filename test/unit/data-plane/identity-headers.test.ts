/**
 * Client-identity headers, RFC 7239 `Forwarded` and the `Via` loop mark (issue 14), on the header pass
 * alone; the hostile suite checks the same through a running proxy.
 */
import { describe, expect, it } from '@jest/globals';
import type { IncomingMessage } from 'node:http';
import { buildRequestHead, viaNames } from '../../../src/proxy/data-plane/forward-headers.js';
import { trustedProxies } from '../../../src/proxy/data-plane/trusted-proxies.js';

function fakeRequest(rawHeaders: string[], remoteAddress = '198.51.100.9'): IncomingMessage {
  return { rawHeaders, socket: { remoteAddress }, httpVersionMajor: 1, httpVersionMinor: 1 } as unknown as IncomingMessage;
}

function asObject(headers: string[]): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (let index = 0; index < headers.length; index += 2) (result[headers[index]!.toLowerCase()] ??= []).push(headers[index + 1]!);
  return result;
}

/** The spoofable headers of the review, plus their usual relatives. */
const IDENTITY = [
  'Forwarded', 'for=1.2.3.4;host=admin.internal',
  'X-Real-IP', '1.2.3.4',
  'True-Client-IP', '1.2.3.4',
  'X-Client-IP', '1.2.3.4',
  'X-Forwarded-Port', '443',
  'X-Forwarded-Prefix', '/admin',
  'X-Original-URL', '/admin/delete',
  'X-Rewrite-URL', '/admin/delete',
  'X-Forwarded-Server', 'admin.internal',
  'X-Forwarded-Ssl', 'on',
  'X-Cluster-Client-IP', '1.2.3.4',
];

describe('client-identity headers', () => {
  it('fix-issue-14-spoofed-identity-headers: drops them from an untrusted peer and sets Forwarded itself', () => {
    const head = buildRequestHead(fakeRequest(['Host', 'shop.example', ...IDENTITY]), false, trustedProxies([]), false);
    const headers = asObject(head.headers);
    for (let index = 0; index < IDENTITY.length; index += 2) {
      const name = IDENTITY[index]!.toLowerCase();
      if (name === 'forwarded') continue;
      expect({ name, value: headers[name] }).toEqual({ name, value: undefined });
    }
    expect(headers.forwarded).toEqual(['for=198.51.100.9;proto=http;host=shop.example']);
  });

  it('keeps them from a trusted proxy and appends this hop to its Forwarded', () => {
    const head = buildRequestHead(fakeRequest(['Host', 'shop.example:8443', ...IDENTITY], '10.0.0.5'), true, trustedProxies(['10.0.0.0/8']), false);
    const headers = asObject(head.headers);
    expect(headers['x-real-ip']).toEqual(['1.2.3.4']);
    expect(headers['x-original-url']).toEqual(['/admin/delete']);
    expect(headers.forwarded).toEqual(['for=1.2.3.4;host=admin.internal, for=10.0.0.5;proto=https;host="shop.example:8443"']);
  });

  it('quotes and brackets an IPv6 client in Forwarded (RFC 7239 section 6)', () => {
    const head = buildRequestHead(fakeRequest(['Host', 'a'], '::1'), false, trustedProxies([]), false);
    expect(asObject(head.headers).forwarded).toEqual(['for="[::1]";proto=http;host=a']);
  });
});

describe('Via', () => {
  it('appends this proxy\'s entry and keeps earlier ones', () => {
    const head = buildRequestHead(fakeRequest(['Host', 'a', 'Via', '1.1 edge']), false, trustedProxies([]), false, undefined, 'inteli-abc');
    expect(asObject(head.headers).via).toEqual(['1.1 edge', '1.1 inteli-abc']);
    expect(head.loop).toBe(false);
  });

  it('fix-issue-14-forwarding-loop: flags a request that already carries this proxy\'s entry', () => {
    const head = buildRequestHead(fakeRequest(['Host', 'a', 'Via', '1.0 edge, 1.1 inteli-abc (x)']), false, trustedProxies([]), false, undefined, 'inteli-abc');
    expect(head.loop).toBe(true);
  });

  it('matches the received-by field exactly, not a substring', () => {
    expect(viaNames('1.1 inteli-abcd', 'inteli-abc')).toBe(false);
    expect(viaNames('1.1 x, HTTP/1.1 inteli-abc', 'inteli-abc')).toBe(true);
    expect(viaNames('inteli-abc', 'inteli-abc')).toBe(false);
  });
});
