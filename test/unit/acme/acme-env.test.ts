import { describe, expect, it } from '@jest/globals';
import { loadEnv } from '../../../src/shared/env.js';

describe('PROXY_ACME_* variables', () => {
  it('are off by default', () => {
    const env = loadEnv({});
    expect(env.acmeDirectoryUrl).toBeUndefined();
    expect(env.acmeEmail).toBeUndefined();
    expect(env.acmeCa).toBeUndefined();
  });

  it('are read when set', () => {
    const env = loadEnv({ PROXY_ACME_DIRECTORY_URL: 'https://acme.example.test/dir', PROXY_ACME_EMAIL: 'ops@example.test', PROXY_ACME_CA: 'ca.pem' });
    expect(env).toMatchObject({ acmeDirectoryUrl: 'https://acme.example.test/dir', acmeEmail: 'ops@example.test', acmeCa: 'ca.pem' });
  });

  it('refuse a directory URL that is not https, naming the variable', () => {
    expect(() => loadEnv({ PROXY_ACME_DIRECTORY_URL: 'http://acme.example.test/dir' })).toThrow(/PROXY_ACME_DIRECTORY_URL/);
  });

  it('refuse a bad e-mail, naming the variable', () => {
    expect(() => loadEnv({ PROXY_ACME_EMAIL: 'nobody' })).toThrow(/PROXY_ACME_EMAIL/);
  });
});
