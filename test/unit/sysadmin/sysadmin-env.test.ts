import { describe, it, expect } from '@jest/globals';
import { readSysadminEnv } from '../../../src/shared/env.js';
import { InvalidEnvError } from '../../../src/shared/errors.js';

const PIN = Buffer.alloc(32, 3).toString('base64');

function envError(source: Record<string, string>): InvalidEnvError {
  try {
    readSysadminEnv(source);
  } catch (error) {
    if (error instanceof InvalidEnvError) return error;
    throw error;
  }
  throw new Error('readSysadminEnv accepted invalid input');
}

describe('readSysadminEnv', () => {
  it('returns nothing for unset or empty variables', () => {
    expect(readSysadminEnv({})).toEqual({});
    expect(readSysadminEnv({ PROXY_WS_URL: '  ', INTELI_ADMIN_ID: '' })).toEqual({});
  });

  it('returns the four settings, trimmed, with the pin normalised', () => {
    expect(
      readSysadminEnv({ PROXY_WS_URL: ' wss://proxy.example:3042 ', INTELI_ADMIN_ID: 'ops', INTELI_ADMIN_KEY: 'keys/ops.key.json', INTELI_PROXY_PIN: `sha256//${PIN}` }),
    ).toEqual({ proxyUrl: 'wss://proxy.example:3042', adminId: 'ops', adminKey: 'keys/ops.key.json', pin: PIN });
  });

  it.each([
    ['PROXY_WS_URL', 'http://proxy:3042', /expected a wss:\/\/host:port URL/],
    ['PROXY_WS_URL', 'not a url', /expected a wss:\/\/host:port URL/],
    ['INTELI_ADMIN_ID', '../admin', /expected an id/],
    ['INTELI_ADMIN_KEY', 'a\0b', /NUL/],
    ['INTELI_PROXY_PIN', 'abc', /base64 SHA-256/],
  ])('names %s when it is %j', (name, value, message) => {
    const error = envError({ [name]: value });
    expect(error.variable).toBe(name);
    expect(error.code).toBe('RP_ERR_INVALID_ENV');
    expect(error.message).toMatch(message);
  });
});
