import { readFile } from 'node:fs/promises';
import { describe, expect, it } from '@jest/globals';
import { ERROR_CATALOG, ProxyError, isProxyError, type ErrorCode } from '../../../src/shared/errors.js';

const codes = Object.keys(ERROR_CATALOG) as ErrorCode[];

describe('error catalog', () => {
  it('is documented in docs/errors.md, code by code, with its HTTP status', async () => {
    const doc = await readFile(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `(RP_ERR_[A-Z_]+)` \| ([^|]+) \|/gm)].map((match) => [match[1], match[2]!.trim()]);
    expect(documented.map(([code]) => code).sort()).toEqual([...codes].sort());
    for (const [code, status] of documented) {
      expect(status).toBe(String(ERROR_CATALOG[code as ErrorCode].status ?? '-'));
    }
  });

  it('gives every ProxyError its code, status, name and cause', () => {
    const cause = new Error('low level');
    const error = new ProxyError('RP_ERR_UPSTREAM_TIMEOUT', 'too slow', { cause });
    expect(error).toMatchObject({ code: 'RP_ERR_UPSTREAM_TIMEOUT', statusCode: 504, name: 'ProxyError', cause });
    expect(isProxyError(error, 'RP_ERR_UPSTREAM_TIMEOUT')).toBe(true);
    expect(isProxyError(error, 'RP_ERR_NO_ROUTE')).toBe(false);
    expect(isProxyError(new Error('x'))).toBe(false);
  });
});
