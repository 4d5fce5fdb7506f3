import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ENV_DEFAULTS, loadEnv } from '../../../src/shared/env.js';
import { InvalidEnvError } from '../../../src/shared/errors.js';

function envError(source: Record<string, string>): InvalidEnvError {
  try {
    loadEnv(source);
  } catch (error) {
    if (error instanceof InvalidEnvError) return error;
    throw error;
  }
  throw new Error('loadEnv accepted invalid input');
}

describe('loadEnv', () => {
  it('returns every default when nothing is set', () => {
    expect(loadEnv({})).toEqual({
      proxyHost: '0.0.0.0',
      proxyPort: 3080,
      proxyTlsPort: 3443,
      wsHost: '0.0.0.0',
      wsPort: 3042,
      adminHost: '127.0.0.1',
      adminPort: 3090,
      tlsCert: 'tsl/cert.pem',
      tlsKey: 'tsl/key.pem',
      certstore: 'certstore',
      trustedProxies: [],
      logLevel: 'info',
      logFormat: 'auto',
      workers: 1,
      bodyTimeoutMs: 60_000,
      affinity: 'none',
      affinityHeader: undefined,
      redisUrl: undefined,
      redisPrefix: 'inteli:',
      nodeId: undefined,
      trustMaxStalenessMs: 30000,
    });
  });

  it('reads the body timeout and the default affinity', () => {
    expect(loadEnv({ PROXY_BODY_TIMEOUT_MS: '0', PROXY_AFFINITY: 'hash', PROXY_AFFINITY_HEADER: 'X-Tenant' })).toMatchObject({ bodyTimeoutMs: 0, affinity: 'hash', affinityHeader: 'x-tenant' });
    expect(() => loadEnv({ PROXY_BODY_TIMEOUT_MS: '-1' })).toThrow(/PROXY_BODY_TIMEOUT_MS/);
    expect(() => loadEnv({ PROXY_AFFINITY: 'sticky' })).toThrow(/PROXY_AFFINITY/);
    expect(() => loadEnv({ PROXY_AFFINITY: 'cookie', PROXY_AFFINITY_HEADER: 'x-tenant' })).toThrow(/PROXY_AFFINITY_HEADER/);
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(loadEnv({}))).toBe(true);
  });

  it('treats an empty value as unset', () => {
    expect(loadEnv({ PROXY_PORT: '  ' }).proxyPort).toBe(3080);
  });

  it('parses ports, hosts, lists and the log level', () => {
    const env = loadEnv({
      PROXY_PORT: '0',
      PROXY_WS_HOST: '::1',
      PROXY_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1',
      LOG_LEVEL: 'debug',
    });
    expect(env).toMatchObject({ proxyPort: 0, wsHost: '::1', trustedProxies: ['10.0.0.0/8', '127.0.0.1'], logLevel: 'debug' });
  });

  it('parses PROXY_WORKERS: a count, or auto for one per core (at most 64)', () => {
    expect(loadEnv({ PROXY_WORKERS: '2' }).workers).toBe(2);
    expect(loadEnv({ PROXY_WORKERS: '64' }).workers).toBe(64);
    expect(loadEnv({ PROXY_WORKERS: 'auto' }).workers).toBe(Math.min(64, availableParallelism()));
  });

  it.each(['0', '65', '-1', '1.5', 'two', 'AUTO'])('rejects PROXY_WORKERS=%s naming the variable and the range', (value) => {
    const error = envError({ PROXY_WORKERS: value });
    expect(error.variable).toBe('PROXY_WORKERS');
    expect(error.message).toContain('1 to 64 or auto');
  });

  it.each([
    ['PROXY_PORT', '65536'],
    ['PROXY_TLS_PORT', '-1'],
    ['PROXY_WS_PORT', 'http'],
    ['PROXY_ADMIN_PORT', '80.5'],
  ])('rejects %s=%s naming the variable', (name, value) => {
    const error = envError({ [name]: value });
    expect(error.code).toBe('RP_ERR_INVALID_ENV');
    expect(error.variable).toBe(name);
    expect(error.message).toContain(name);
  });

  it('rejects a host with spaces or a scheme', () => {
    expect(envError({ PROXY_HOST: 'http://x' }).variable).toBe('PROXY_HOST');
    expect(envError({ PROXY_ADMIN_HOST: 'a b' }).variable).toBe('PROXY_ADMIN_HOST');
  });

  it('rejects an unknown log level and lists the allowed ones', () => {
    const error = envError({ LOG_LEVEL: 'loud' });
    expect(error.message).toContain('info');
  });

  it('parses LOG_FORMAT (auto, json, pretty) and rejects anything else naming the variable', () => {
    expect(loadEnv({ LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(loadEnv({ LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    const error = envError({ LOG_FORMAT: 'yaml' });
    expect(error.variable).toBe('LOG_FORMAT');
    expect(error.message).toContain('auto, json, pretty');
  });

  it('rejects a trusted proxy that is not an IP or CIDR', () => {
    expect(envError({ PROXY_TRUSTED_PROXIES: 'example.com' }).variable).toBe('PROXY_TRUSTED_PROXIES');
  });

  it('loads .env from the working directory only when asked to read process.env', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'inteli-env-'));
    writeFileSync(path.join(dir, '.env'), 'PROXY_ADMIN_PORT=4999\n');
    const before = process.env.PROXY_ADMIN_PORT;
    try {
      delete process.env.PROXY_ADMIN_PORT;
      expect(loadEnv(undefined, dir).adminPort).toBe(4999);
    } finally {
      if (before === undefined) delete process.env.PROXY_ADMIN_PORT;
      else process.env.PROXY_ADMIN_PORT = before;
    }
  });

  it('parses the fleet variables: PROXY_REDIS_URL, PROXY_REDIS_PREFIX, PROXY_NODE_ID, PROXY_TRUST_MAX_STALENESS_MS', () => {
    const env = loadEnv({
      PROXY_REDIS_URL: 'rediss://:secret@redis.internal:6380/2',
      PROXY_REDIS_PREFIX: 'prod:',
      PROXY_NODE_ID: 'proxy-a',
      PROXY_TRUST_MAX_STALENESS_MS: '5000',
    });
    expect(env).toMatchObject({ redisUrl: 'rediss://:secret@redis.internal:6380/2', redisPrefix: 'prod:', nodeId: 'proxy-a', trustMaxStalenessMs: 5000 });
  });

  it.each([
    ['PROXY_REDIS_URL', 'http://:secret@host:6379'],
    ['PROXY_REDIS_URL', 'not a url'],
    ['PROXY_REDIS_PREFIX', 'has space'],
    ['PROXY_NODE_ID', '../x'],
    ['PROXY_TRUST_MAX_STALENESS_MS', '999'],
    ['PROXY_TRUST_MAX_STALENESS_MS', '30s'],
  ])('rejects %s=%s naming the variable', (name, value) => {
    const error = envError({ [name]: value });
    expect(error.variable).toBe(name);
    // A Redis URL may carry a password: it is never echoed.
    expect(error.message).not.toContain('secret');
  });

  it('documents every variable with its default in .env.example', async () => {
    const { readFile } = await import('node:fs/promises');
    const example = await readFile(new URL('../../../.env.example', import.meta.url), 'utf8');
    for (const [name, value] of Object.entries(ENV_DEFAULTS)) {
      expect(example).toContain(`\n${name}=${value}\n`);
    }
  });
});
