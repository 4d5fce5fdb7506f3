import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatTable, printable } from '../../../src/sysadmin/format-table.js';
import { parseBackendListResult, parseDrainResult, parseKeyListResult, parseRemoveKeyResult } from '../../../src/sysadmin/admin-results.js';
import { loadPublicKey } from '../../../src/sysadmin/public-key-source.js';
import { resolveSysAdminOptions } from '../../../src/sysadmin/sysadmin-options.js';
import { connectionOptions, DEFAULT_CLI_PROXY_URL } from '../../../src/sysadmin/connection-settings.js';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { localControlUrl, readLocalProxyRecord, writeLocalProxyRecord } from '../../../src/shared/local-proxy-record.js';

const PIN = Buffer.alloc(32, 5).toString('base64');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'inteli-sysadmin-unit-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('formatTable', () => {
  it('pads every column to its widest cell and trims line ends', () => {
    expect(formatTable(['ID', 'ROLE'], [['WEB001', 'agent'], ['a', 'admin']])).toBe('ID      ROLE\nWEB001  agent\na       admin');
  });

  it('replaces control characters from the network by spaces', () => {
    expect(printable('ok\u001b[2J\u0007\u009b')).toBe('ok [2J  ');
  });
});

describe('admin answers', () => {
  it('keeps the known fields of a valid key list and drops the rest', async () => {
    const { publicJwk } = await generateKeyPair('K');
    const keys = parseKeyListResult({ keys: [{ id: 'K', role: 'agent', scope: { rules: ['/a'] }, fingerprint: 'f', publicKey: publicJwk, createdAt: 'now', sessions: 2, extra: true }] });
    expect(keys).toEqual([{ id: 'K', role: 'agent', scope: { rules: ['/a'] }, fingerprint: 'f', publicKey: publicJwk, createdAt: 'now', sessions: 2 }]);
    expect(Object.isFrozen(keys[0])).toBe(true);
  });

  it.each([
    ['a key list that is not an array', () => parseKeyListResult({ keys: 'x' }), /result\.keys: expected an array/],
    ['a key without a public key', () => parseKeyListResult({ keys: [{ id: 'K', role: 'agent', scope: {} }] }), /keys\[0\]\.publicKey/],
    ['a backend with a bad state', () => parseBackendListResult({ backends: [{ id: 'b', agentId: 'a', targets: [], rules: [], weight: 1, state: 'gone', registeredAt: 1 }] }), /backends\[0\]\.state/],
    ['a remove answer without a count', () => parseRemoveKeyResult({ keyId: 'K' }), /closedSessions/],
    ['a drain answer with numbers', () => parseDrainResult({ backendIds: [1] }), /backendIds\[0\]/],
  ])('refuses %s with RP_ERR_INVALID_MESSAGE', (_name, parse, message) => {
    let error: unknown;
    try {
      parse();
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'RP_ERR_INVALID_MESSAGE', message: expect.stringMatching(message) });
  });

  it('reads a backend with its targets, rules and labels', () => {
    const [backend] = parseBackendListResult({
      backends: [{ id: 'b', agentId: 'a', targets: [{ protocol: 'http', host: '127.0.0.1', port: 80 }], rules: [{ path: '/x', host: 'h' }, { path: '/' }], weight: 3, state: 'draining', meta: { v: '1' }, registeredAt: 5 }],
    });
    expect(backend).toEqual({ id: 'b', agentId: 'a', fingerprint: undefined, targets: [{ protocol: 'http', host: '127.0.0.1', port: 80 }], rules: [{ path: '/x', host: 'h' }, { path: '/', host: undefined }], weight: 3, state: 'draining', meta: { v: '1' }, registeredAt: 5 });
  });
});

describe('loadPublicKey', () => {
  it('refuses a private PEM with a hint', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const file = path.join(dir, 'private.pem');
    await writeFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await expect(loadPublicKey(file)).rejects.toMatchObject({ code: 'RP_ERR_INVALID_KEY', message: expect.stringContaining('holds a private key') });
  });

  it('refuses a non-Ed25519 PEM', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const file = path.join(dir, 'ec.pem');
    await writeFile(file, publicKey.export({ type: 'spki', format: 'pem' }));
    await expect(loadPublicKey(file)).rejects.toMatchObject({ code: 'RP_ERR_INVALID_KEY', message: expect.stringContaining('expected an Ed25519 key') });
  });

  it('refuses a directory', async () => {
    await expect(loadPublicKey(dir)).rejects.toMatchObject({ code: 'RP_ERR_INVALID_KEY', message: expect.stringContaining('not a regular file') });
  });
});

describe('ProxySysAdmin options', () => {
  const key = 'keys/ops.key.json';

  it('applies the defaults and freezes', () => {
    const options = resolveSysAdminOptions({ proxyUrl: 'wss://p:3042', adminId: 'ops', key, pin: `sha256//${PIN}` });
    expect(options.audience).toBeUndefined();
    expect(options).toMatchObject({ requestTimeoutMs: 10_000, handshakeTimeoutMs: 10_000, idleTimeoutMs: 15_000, tokenTtlSeconds: 60, pins: [PIN], insecure: false });
    expect(Object.isFrozen(options)).toBe(true);
  });

  it.each([
    [{ proxyUrl: 'ws://p:1' }, /proxyUrl: expected a wss:\/\/ URL/],
    [{ key: '' }, /key: expected/],
    [{ pin: [] }, /pin: expected at least one pin/],
    [{ ca: 7 }, /ca: expected/],
    [{ audience: '' }, /audience/],
    [{ idleTimeoutMs: -1 }, /idleTimeoutMs/],
    [{ tokenTtlSeconds: 121 }, /tokenTtlSeconds/],
    [{ insecure: 'yes' }, /insecure: expected a boolean/],
  ])('refuses %j', (override, message) => {
    expect(() => resolveSysAdminOptions({ proxyUrl: 'wss://p:3042', adminId: 'ops', key, ...(override as object) })).toThrow(message);
  });

  it('accepts ws:// with insecure', () => {
    expect(resolveSysAdminOptions({ proxyUrl: 'ws://p:1', adminId: 'ops', key, insecure: true }).proxyUrl.protocol).toBe('ws:');
  });
});

describe('CLI connection settings', () => {
  const logger = silentLogger();

  it('defaults fit a local proxy and a key made by init', () => {
    expect(connectionOptions({}, {}, logger)).toMatchObject({ proxyUrl: DEFAULT_CLI_PROXY_URL, adminId: 'admin', key: path.join('keys', 'admin.key.json') });
  });

  it('flags win over the environment', () => {
    const env = { proxyUrl: 'wss://env:1', adminId: 'envadmin', adminKey: 'env.key.json', pin: PIN };
    expect(connectionOptions({}, env, logger)).toMatchObject({ proxyUrl: 'wss://env:1', adminId: 'envadmin', key: 'env.key.json', pin: PIN });
    expect(connectionOptions({ proxy: 'wss://flag:2', id: 'flag', key: 'flag.key.json', timeout: '50' }, env, logger)).toMatchObject({ proxyUrl: 'wss://flag:2', adminId: 'flag', key: 'flag.key.json', requestTimeoutMs: 50 });
  });

  it('reads the control URL and the pin from proxy.json beside the key when flags and environment leave them unset', async () => {
    const keyDir = await mkdtemp(path.join(dir, 'record-'));
    const key = path.join(keyDir, 'admin.key.json');
    await writeLocalProxyRecord(keyDir, { proxyUrl: 'wss://127.0.0.1:4042', pin: PIN });
    expect(connectionOptions({ key }, {}, logger)).toMatchObject({ proxyUrl: 'wss://127.0.0.1:4042', pin: PIN });
    // A flag or a variable wins; the record's pin is not used for another proxy.
    expect(connectionOptions({ key, proxy: 'wss://other:1' }, {}, logger)).not.toHaveProperty('pin');
    const otherPin = Buffer.alloc(32, 6).toString('base64');
    expect(connectionOptions({ key }, { pin: otherPin }, logger)).toMatchObject({ proxyUrl: 'wss://127.0.0.1:4042', pin: otherPin });
    expect(connectionOptions({ key, insecure: true }, {}, logger)).not.toHaveProperty('pin');
  });

  it('refuses a broken proxy.json naming the file, and ignores a missing one', async () => {
    const keyDir = await mkdtemp(path.join(dir, 'broken-'));
    expect(readLocalProxyRecord(keyDir)).toBeUndefined();
    await writeFile(path.join(keyDir, 'proxy.json'), JSON.stringify({ proxyUrl: 'http://x', pin: PIN }));
    expect(() => connectionOptions({ key: path.join(keyDir, 'admin.key.json') }, {}, logger)).toThrow(/proxy\.json: proxyUrl: expected a wss:\/\/ URL/);
    await writeFile(path.join(keyDir, 'proxy.json'), '{');
    expect(() => readLocalProxyRecord(keyDir)).toThrow(/not valid JSON/);
  });

  it('dials a wildcard listener over loopback', () => {
    expect(localControlUrl('0.0.0.0', 3042)).toBe('wss://127.0.0.1:3042');
    expect(localControlUrl('::', 3042)).toBe('wss://[::1]:3042');
    expect(localControlUrl('::1', 1)).toBe('wss://[::1]:1');
    expect(localControlUrl('proxy.example', 1)).toBe('wss://proxy.example:1');
  });

  it('--ca or --insecure replaces the pin from the environment', () => {
    expect(connectionOptions({ ca: 'ca.pem' }, { pin: PIN }, logger)).not.toHaveProperty('pin');
    expect(connectionOptions({ insecure: true }, { pin: PIN }, logger)).toMatchObject({ insecure: true });
    expect(connectionOptions({ insecure: true }, { pin: PIN }, logger)).not.toHaveProperty('pin');
  });
});
