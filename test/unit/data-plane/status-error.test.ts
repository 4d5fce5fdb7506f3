import { describe, expect, it } from '@jest/globals';
import { isConnectFailure, statusError } from '../../../src/proxy/data-plane/status-error.js';
import { ProxyError } from '../../../src/shared/errors.js';

function coded(code: string): Error {
  return Object.assign(new Error(`failure ${code}`), { code });
}

describe('statusError', () => {
  it.each([
    ['ECONNREFUSED', false, 'RP_ERR_UPSTREAM_CONNECT', 502],
    ['ECONNRESET', false, 'RP_ERR_UPSTREAM_CONNECT', 502],
    ['ECONNRESET', true, 'RP_ERR_UPSTREAM_CONNECT', 502],
    ['UND_ERR_CONNECT_TIMEOUT', false, 'RP_ERR_UPSTREAM_CONNECT', 502],
    ['EHOSTUNREACH', false, 'RP_ERR_UPSTREAM_CONNECT', 502],
    ['UND_ERR_HEADERS_TIMEOUT', true, 'RP_ERR_UPSTREAM_TIMEOUT', 504],
    ['UND_ERR_BODY_TIMEOUT', true, 'RP_ERR_UPSTREAM_TIMEOUT', 504],
    ['UND_ERR_SOCKET', true, 'RP_ERR_UPSTREAM_RESPONSE', 502],
    ['HPE_INVALID_CONSTANT', true, 'RP_ERR_UPSTREAM_RESPONSE', 502],
    ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', true, 'RP_ERR_UPSTREAM_RESPONSE', 502],
    ['UND_ERR_ABORTED', true, 'RP_ERR_CLIENT_ABORTED', 499],
    ['UND_ERR_INVALID_ARG', false, 'RP_ERR_BAD_REQUEST', 400],
  ])('maps %s (request sent: %s) to %s', (code, sent, expected, status) => {
    const error = coded(code);
    const mapped = statusError(error, sent);
    expect(mapped.code).toBe(expected);
    expect(mapped.statusCode).toBe(status);
    expect(mapped.cause).toBe(error);
  });

  it('keeps a ProxyError as it is and maps unknown values to 502', () => {
    const own = new ProxyError('RP_ERR_CLIENT_ABORTED', 'gone');
    expect(statusError(own, true)).toBe(own);
    expect(statusError('weird', false)).toMatchObject({ code: 'RP_ERR_UPSTREAM_RESPONSE', statusCode: 502 });
  });

  it('calls only a connect failure before any byte was sent retryable', () => {
    expect(isConnectFailure(statusError(coded('ECONNREFUSED'), false), false)).toBe(true);
    expect(isConnectFailure(statusError(coded('ECONNRESET'), true), true)).toBe(false);
    expect(isConnectFailure(statusError(coded('UND_ERR_HEADERS_TIMEOUT'), false), false)).toBe(false);
  });
});
