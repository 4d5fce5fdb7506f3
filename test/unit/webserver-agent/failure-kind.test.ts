import { describe, it, expect } from '@jest/globals';
import { ControlError, InvalidKeyError, TimeoutError, TlsError } from '../../../src/shared/errors.js';
import { UpgradeRefusedError } from '../../../src/shared/control-client/upgrade-refused-error.js';
import { asProxyError, failureKind } from '../../../src/webserver-agent/failure-kind.js';

describe('failureKind (issue 18: a first start that meets a limit retries)', () => {
  it.each([
    ['a 429 upgrade answer (pending handshakes, session slots)', new UpgradeRefusedError('RP_ERR_LIMIT_EXCEEDED', 429, 'x')],
    ['a 503 upgrade answer (proxy stopping)', new UpgradeRefusedError('RP_ERR_SHUTTING_DOWN', 503, 'x')],
    ['a 500 upgrade answer', new UpgradeRefusedError('RP_ERR_DISCONNECTED', 500, 'x')],
    ['an unreachable proxy', new ControlError('RP_ERR_DISCONNECTED', 'ECONNREFUSED')],
    ['a timeout', new TimeoutError('no answer')],
  ])('%s is transient', (_name, error) => {
    expect(failureKind(error)).toBe('transient');
  });

  it.each([
    ['a 401 upgrade answer (unknown key)', new UpgradeRefusedError('RP_ERR_UNAUTHORIZED', 401, 'x')],
    ['a 403 upgrade answer (role)', new UpgradeRefusedError('RP_ERR_FORBIDDEN', 403, 'x')],
    ['a 400 upgrade answer', new UpgradeRefusedError('RP_ERR_DISCONNECTED', 400, 'x')],
    ['a scope refusal', new ControlError('RP_ERR_OUT_OF_SCOPE', 'x')],
    ['a limit answered to register (too many rules)', new ControlError('RP_ERR_LIMIT_EXCEEDED', 'x')],
    ['a gatekeeper refusal', new ControlError('RP_ERR_REJECTED', 'x')],
    ['a pin mismatch', new TlsError('x')],
    ['an unreadable key', new InvalidKeyError('x')],
    ['an unexpected error', new Error('bug')],
  ])('%s is a refusal', (_name, error) => {
    expect(failureKind(error)).toBe('refused');
  });

  it('asProxyError keeps a ProxyError and wraps anything else as RP_ERR_INTERNAL', () => {
    const error = new TlsError('x');
    expect(asProxyError(error)).toBe(error);
    expect(asProxyError(new Error('bug'))).toMatchObject({ code: 'RP_ERR_INTERNAL', message: expect.stringContaining('bug') });
  });
});
