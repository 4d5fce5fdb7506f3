import { describe, expect, it } from '@jest/globals';
import type { IncomingMessage } from 'node:http';
import { buildRequestHead, rewriteResponseHeaders } from '../../../src/proxy/data-plane/forward-headers.js';
import { trustedProxies } from '../../../src/proxy/data-plane/trusted-proxies.js';

function fakeRequest(rawHeaders: string[], remoteAddress = '198.51.100.9'): IncomingMessage {
  return { rawHeaders, socket: { remoteAddress } } as unknown as IncomingMessage;
}

function asObject(headers: string[]): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (let index = 0; index < headers.length; index += 2) (result[headers[index]!.toLowerCase()] ??= []).push(headers[index + 1]!);
  return result;
}

const none = trustedProxies([]);

describe('buildRequestHead', () => {
  it('keeps end-to-end headers with their case and strips hop-by-hop ones', () => {
    const head = buildRequestHead(
      fakeRequest([
        'Host', 'shop.example',
        'Connection', 'keep-alive, X-Hop',
        'X-Hop', '1',
        'Keep-Alive', 'timeout=5',
        'TE', 'trailers',
        'Trailer', 'X-Sum',
        'Transfer-Encoding', 'chunked',
        'Upgrade', 'websocket',
        'Proxy-Authorization', 'Basic x',
        'Proxy-Foo', 'bar',
        'Expect', '100-continue',
        'Accept', 'text/html',
      ]),
      false,
      none,
      false,
    );
    expect(head.headers.slice(0, 4)).toEqual(['Host', 'shop.example', 'Accept', 'text/html']);
    const names = Object.keys(asObject(head.headers));
    for (const hop of ['connection', 'x-hop', 'keep-alive', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'proxy-foo', 'expect']) {
      expect(names).not.toContain(hop);
    }
    // TE is hop-by-hop, but the proxy relays trailers, so it says `te: trailers` itself on the next hop;
    // Expect and Trailer are reported to the forwarder, which sends them on the path that supports them.
    expect(head.headers.slice(-2)).toEqual(['te', 'trailers']);
    expect(head.expectContinue).toBe(true);
    expect(head.trailer).toBe('X-Sum');
    expect(head.hasBody).toBe(true);
    expect(head.host).toBe('shop.example');
  });

  it('detects a body from Content-Length', () => {
    expect(buildRequestHead(fakeRequest(['Content-Length', '0']), false, none, false).hasBody).toBe(false);
    expect(buildRequestHead(fakeRequest(['Content-Length', '12']), false, none, false).hasBody).toBe(true);
    expect(buildRequestHead(fakeRequest([]), false, none, false).hasBody).toBe(false);
  });

  it('keeps only the first Host header', () => {
    const head = buildRequestHead(fakeRequest(['Host', 'a', 'Host', 'b']), false, none, false);
    expect(asObject(head.headers).host).toEqual(['a']);
  });

  it('replaces X-Forwarded-* from an untrusted peer', () => {
    const head = buildRequestHead(
      fakeRequest(['Host', 'h', 'X-Forwarded-For', '1.1.1.1', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'evil']),
      false,
      trustedProxies(['10.0.0.0/8']),
      false,
    );
    const headers = asObject(head.headers);
    expect(headers['x-forwarded-for']).toEqual(['198.51.100.9']);
    expect(headers['x-forwarded-proto']).toEqual(['http']);
    expect(headers['x-forwarded-host']).toEqual(['h']);
  });

  it('extends X-Forwarded-For and keeps -Proto/-Host from a trusted peer', () => {
    const head = buildRequestHead(
      fakeRequest(['X-Forwarded-For', '1.1.1.1', 'x-forwarded-for', '2.2.2.2', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'front'], '::ffff:10.1.2.3'),
      false,
      trustedProxies(['10.0.0.0/8']),
      false,
    );
    const headers = asObject(head.headers);
    expect(headers['x-forwarded-for']).toEqual(['1.1.1.1, 2.2.2.2, 10.1.2.3']);
    expect(headers['x-forwarded-proto']).toEqual(['https']);
    expect(headers['x-forwarded-host']).toEqual(['front']);
  });

  it('sets X-Forwarded-Proto https on TLS connections', () => {
    expect(asObject(buildRequestHead(fakeRequest([]), true, none, false).headers)['x-forwarded-proto']).toEqual(['https']);
  });

  it('keeps a valid x-request-id and replaces an invalid one', () => {
    expect(buildRequestHead(fakeRequest(['X-Request-Id', 'abc-1']), false, none, false).requestId).toBe('abc-1');
    const generated = buildRequestHead(fakeRequest(['X-Request-Id', 'a b']), false, none, false);
    expect(generated.requestId).not.toBe('a b');
    expect(asObject(generated.headers)['x-request-id']).toEqual([generated.requestId]);
  });

  it('keeps Upgrade on upgrade requests', () => {
    const head = buildRequestHead(fakeRequest(['Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k']), false, none, true);
    const headers = asObject(head.headers);
    expect(headers.connection).toEqual(['Upgrade']);
    expect(headers.upgrade).toEqual(['websocket']);
    expect(headers['sec-websocket-key']).toEqual(['k']);
  });
});

/** The flat list as pairs, so a test can compare it with toEqual. */
function pairs(list: string[]): Array<[string, string]> {
  const result: Array<[string, string]> = [];
  for (let i = 0; i < list.length; i += 2) result.push([list[i]!, list[i + 1]!]);
  return result;
}

describe('rewriteResponseHeaders', () => {
  it('strips hop-by-hop headers and those named by Connection, and adds x-request-id', () => {
    const headers = rewriteResponseHeaders(
      {
        connection: 'keep-alive, x-secret',
        'x-secret': '1',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        trailer: 'x-sum',
        upgrade: 'h2c',
        'proxy-authenticate': 'Basic',
        'set-cookie': ['a=1', 'b=2'],
        'content-type': 'text/plain',
      },
      'rid-1',
    );
    expect(pairs(headers)).toEqual([
      // Trailer is end-to-end (RFC 9110 section 6.6.2): it announces the trailers the proxy relays.
      ['trailer', 'x-sum'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
      ['content-type', 'text/plain'],
      ['x-request-id', 'rid-1'],
    ]);
  });

  it('keeps the upstream x-request-id', () => {
    expect(pairs(rewriteResponseHeaders({ 'x-request-id': 'upstream' }, 'mine'))).toEqual([['x-request-id', 'upstream']]);
  });

  it('leaves the parsed object untouched', () => {
    const parsed = { connection: 'close', 'content-length': '2' };
    rewriteResponseHeaders(parsed, 'rid');
    expect(parsed).toEqual({ connection: 'close', 'content-length': '2' });
  });
});
