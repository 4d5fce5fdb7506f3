import { describe, expect, it } from '@jest/globals';
import { isAdminMessage, parseClientMessage } from '../../../src/shared/protocol-guards.js';
import type { ClientMessage } from '../../../src/shared/protocol.js';

const register = { type: 'register', id: 'r1', targets: [{ host: '127.0.0.1', port: 8080 }], rules: ['/api'] };

function reason(frame: unknown): string {
  const result = parseClientMessage(typeof frame === 'string' ? frame : JSON.stringify(frame));
  if (result.ok) throw new Error('expected an invalid frame');
  return result.reason;
}

describe('parseClientMessage', () => {
  it('returns a clean register message with defaults and only known fields', () => {
    const result = parseClientMessage(JSON.stringify({ ...register, extra: 1, targets: [{ host: 'LOCALHOST', port: 80, junk: true }] }));
    expect(result).toEqual({ ok: true, message: { type: 'register', id: 'r1', targets: [{ host: 'localhost', port: 80, protocol: 'http' }], rules: ['/api'] } });
  });

  it('keeps weight, meta and rule objects; strips brackets from IPv6 targets', () => {
    const result = parseClientMessage(
      JSON.stringify({ ...register, targets: [{ host: '[::1]', port: 443, protocol: 'https' }], rules: [{ path: '/a', host: 'example.com' }], weight: 7, meta: { version: '1.0' } }),
    );
    expect(result).toMatchObject({ ok: true, message: { targets: [{ host: '::1', port: 443, protocol: 'https' }], rules: [{ path: '/a', host: 'example.com' }], weight: 7, meta: { version: '1.0' } } });
  });

  it('refuses non-JSON and non-object frames', () => {
    expect(reason('not json')).toMatch(/not valid JSON/);
    expect(reason('[1]')).toMatch(/JSON object/);
    expect(reason('null')).toMatch(/JSON object/);
  });

  it('refuses an unknown type and echoes the id when readable', () => {
    expect(parseClientMessage(JSON.stringify({ type: 'nope', id: 'x1' }))).toEqual({ ok: false, id: 'x1', reason: expect.stringMatching(/unknown message type/) });
  });

  it('requires a request id of 1 to 64 printable characters on requests', () => {
    expect(reason({ ...register, id: undefined })).toMatch(/^id:/);
    expect(reason({ ...register, id: '' })).toMatch(/^id:/);
    expect(reason({ ...register, id: 'a'.repeat(65) })).toMatch(/^id:/);
    expect(reason({ ...register, id: 'has space' })).toMatch(/^id:/);
  });

  it('refuses empty or oversized target and rule lists', () => {
    expect(reason({ ...register, targets: [] })).toMatch(/^targets:/);
    expect(reason({ ...register, rules: [] })).toMatch(/^rules:/);
    expect(reason({ ...register, rules: Array.from({ length: 257 }, () => '/a') })).toMatch(/^rules:/);
    expect(reason({ ...register, targets: 'x' })).toMatch(/^targets:/);
  });

  it('refuses bad target hosts, ports and protocols', () => {
    expect(reason({ ...register, targets: [{ host: 'a b', port: 80 }] })).toMatch(/targets\[0\]\.host/);
    expect(reason({ ...register, targets: [{ host: 'h', port: 0 }] })).toMatch(/targets\[0\]\.port/);
    expect(reason({ ...register, targets: [{ host: 'h', port: 1.5 }] })).toMatch(/targets\[0\]\.port/);
    expect(reason({ ...register, targets: [{ host: 'h', port: 80, protocol: 'ftp' }] })).toMatch(/targets\[0\]\.protocol/);
  });

  it('refuses bad rules, weights and meta', () => {
    expect(reason({ ...register, rules: [42] })).toMatch(/rules\[0\]/);
    expect(reason({ ...register, rules: [{ path: '' }] })).toMatch(/rules\[0\]\.path/);
    expect(reason({ ...register, weight: 0 })).toMatch(/^weight/);
    expect(reason({ ...register, weight: 1001 })).toMatch(/^weight/);
    expect(reason({ ...register, meta: { a: 1 } })).toMatch(/meta\.a/);
    expect(reason({ ...register, meta: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) })).toMatch(/at most 16/);
  });

  it('keeps affinity, affinityHeader (lower-cased) and bodyTimeoutMs of a register frame', () => {
    expect(parseClientMessage(JSON.stringify({ ...register, affinity: 'hash', affinityHeader: 'X-User', bodyTimeoutMs: 0 }))).toMatchObject({
      ok: true,
      message: { affinity: 'hash', affinityHeader: 'x-user', bodyTimeoutMs: 0 },
    });
    expect(parseClientMessage(JSON.stringify({ ...register, affinity: 'cookie' }))).toMatchObject({ ok: true, message: { affinity: 'cookie' } });
  });

  it.each([
    [{ affinity: 'sticky' }, /^affinity: expected/],
    [{ affinity: 'cookie', affinityHeader: 'x-user' }, /^affinityHeader: only with affinity "hash"/],
    [{ affinity: 'hash', affinityHeader: 'bad header' }, /^affinityHeader: expected/],
    [{ bodyTimeoutMs: -1 }, /^bodyTimeoutMs/],
    [{ bodyTimeoutMs: 1.5 }, /^bodyTimeoutMs/],
    [{ bodyTimeoutMs: 2 ** 31 }, /^bodyTimeoutMs/],
  ])('refuses register route settings %j', (extra, expected) => {
    expect(reason({ ...register, ...extra })).toMatch(expected);
  });

  it('parses health frames and backends.undrain (admin-only)', () => {
    expect(parseClientMessage(JSON.stringify({ type: 'health', id: 'h', healthy: false, reason: 'refused' }))).toEqual({ ok: true, message: { type: 'health', id: 'h', healthy: false, reason: 'refused' } });
    expect(reason({ type: 'health', id: 'h', healthy: 'yes' })).toMatch(/^healthy/);
    expect(reason({ type: 'health', id: 'h', healthy: true, reason: 'x'.repeat(257) })).toMatch(/^reason/);
    const undrain = parseClientMessage(JSON.stringify({ type: 'backends.undrain', id: 'u', agentId: 'WEB1' }));
    expect(undrain).toEqual({ ok: true, message: { type: 'backends.undrain', id: 'u', agentId: 'WEB1' } });
    expect(isAdminMessage((undrain as { message: ClientMessage }).message)).toBe(true);
    expect(reason({ type: 'backends.undrain', id: 'u' })).toMatch(/^agentId/);
  });

  it('refuses a __proto__ meta label (no prototype pollution)', () => {
    expect(reason(`{"type":"register","id":"r","targets":[{"host":"h","port":1}],"rules":["/a"],"meta":{"__proto__":"x"}}`)).toMatch(/label names/);
  });

  it('parses events with or without an id and validates the name', () => {
    expect(parseClientMessage(JSON.stringify({ type: 'event', name: 'a.b', data: [1] }))).toEqual({ ok: true, message: { type: 'event', name: 'a.b', data: [1] } });
    expect(parseClientMessage(JSON.stringify({ type: 'event', id: 'e', name: 'x' }))).toMatchObject({ ok: true, message: { id: 'e' } });
    expect(reason({ type: 'event', name: 'bad name' })).toMatch(/^name/);
  });

  it('parses admin messages and flags them as admin-only', () => {
    const add = parseClientMessage(JSON.stringify({ type: 'keys.add', id: 'k', keyId: 'WEB1', publicKey: { kty: 'OKP' }, role: 'admin', scope: { rules: ['/a'], hosts: ['10.0.0.0/8'] } }));
    expect(add).toMatchObject({ ok: true, message: { type: 'keys.add', keyId: 'WEB1', role: 'admin', scope: { rules: ['/a'], hosts: ['10.0.0.0/8'] } } });
    expect(add.ok && isAdminMessage(add.message)).toBe(true);
    expect(reason({ type: 'keys.add', id: 'k', keyId: 'WEB1', publicKey: 'pem' })).toMatch(/publicKey/);
    expect(reason({ type: 'keys.add', id: 'k', keyId: 'WEB1', publicKey: {}, role: 'root' })).toMatch(/^role/);
    expect(parseClientMessage(JSON.stringify({ type: 'keys.remove', id: 'k', keyId: 'WEB1' }))).toMatchObject({ ok: true });
    expect(parseClientMessage(JSON.stringify({ type: 'backends.drain', id: 'k', agentId: 'WEB1' }))).toMatchObject({ ok: true });
    expect(reason({ type: 'backends.drain', id: 'k' })).toMatch(/^agentId/);
    const drain = parseClientMessage(JSON.stringify({ type: 'drain', id: 'd' }));
    expect(drain.ok && isAdminMessage(drain.message)).toBe(false);
  });

  it('keys.import: 1 to 100 entries with the fields of keys.add, each error naming its entry; admin only', () => {
    const entry = { keyId: 'WEB1', publicKey: { kty: 'OKP' }, scope: { rules: ['/a'] }, stray: 1 };
    const parsed = parseClientMessage(JSON.stringify({ type: 'keys.import', id: 'i', keys: [entry, { keyId: 'WEB2', publicKey: {}, replace: true }] }));
    expect(parsed).toEqual({
      ok: true,
      message: { type: 'keys.import', id: 'i', keys: [{ keyId: 'WEB1', publicKey: { kty: 'OKP' }, scope: { rules: ['/a'] } }, { keyId: 'WEB2', publicKey: {}, replace: true }] },
    });
    expect(parsed.ok && isAdminMessage(parsed.message)).toBe(true);
    expect(reason({ type: 'keys.import', id: 'i', keys: [] })).toMatch(/^keys: expected an array of 1 to 100/);
    expect(reason({ type: 'keys.import', id: 'i', keys: Array.from({ length: 101 }, () => entry) })).toMatch(/^keys: expected an array of 1 to 100/);
    expect(reason({ type: 'keys.import', id: 'i', keys: [entry, { keyId: 'W', publicKey: {}, role: 'root' }] })).toMatch(/^keys\[1\]\.role/);
    expect(reason({ type: 'keys.import', id: 'i', keys: [entry, 'x'] })).toMatch(/^keys\[1\]: expected/);
  });
});
