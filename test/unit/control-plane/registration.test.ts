import { describe, expect, it } from '@jest/globals';
import { resolveControlPlaneOptions } from '../../../src/proxy/control-plane/control-plane-options.js';
import { runGatekeepers, targetSetKey, verifyRegistration } from '../../../src/proxy/control-plane/registration.js';
import { TrustStore } from '../../../src/shared/trust/index.js';
import type { VerifiedIdentity } from '../../../src/proxy/control-plane/token-verifier.js';
import type { RegisterMessage } from '../../../src/shared/protocol.js';
import { BackendRegistry } from '../../../src/proxy/registry/backend-registry.js';

const limits = resolveControlPlaneOptions({
  registry: new BackendRegistry(),
  trustStore: TrustStore.inMemory(),
  insecure: true,
  limits: { maxRulesPerRegistration: 2, maxTargetsPerRegistration: 2 },
}).limits;
// A loopback agent needs its service's port granted (issue 14).
const identity: VerifiedIdentity = Object.freeze({ id: 'WEB001', role: 'agent', scope: Object.freeze({ rules: ['/api'], hosts: ['127.0.0.1:8080'] }), fingerprint: 'fp' });
const message = (overrides: Partial<RegisterMessage> = {}): RegisterMessage => ({
  type: 'register',
  id: 'r',
  targets: [{ host: '127.0.0.1', port: 8080 }],
  rules: ['/api'],
  ...overrides,
});

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as { code: string }).code;
  }
  throw new Error('expected an error');
}

describe('verifyRegistration', () => {
  it('returns a frozen registration with the identity, normalised and de-duplicated rules and targets', () => {
    const registration = verifyRegistration(
      message({ rules: ['/api/', '/api'], targets: [{ host: '127.0.0.1', port: 8080 }, { host: '127.0.0.1', port: 8080, protocol: 'http' }], meta: { v: '1' } }),
      identity,
      '127.0.0.1',
      limits,
    );
    expect(registration).toEqual({
      agentId: 'WEB001',
      fingerprint: 'fp',
      remoteAddress: '127.0.0.1',
      targets: [{ protocol: 'http', host: '127.0.0.1', port: 8080 }],
      rules: [{ path: '/api', host: undefined }],
      weight: 1,
      meta: { v: '1' },
    });
    expect(Object.isFrozen(registration)).toBe(true);
  });

  it('applies the rule and target limits with RP_ERR_LIMIT_EXCEEDED', () => {
    expect(codeOf(() => verifyRegistration(message({ rules: ['/api/a', '/api/b', '/api/c'] }), identity, '127.0.0.1', limits))).toBe('RP_ERR_LIMIT_EXCEEDED');
    const targets = [1, 2, 3].map((port) => ({ host: '127.0.0.1', port }));
    expect(codeOf(() => verifyRegistration(message({ targets }), identity, '127.0.0.1', limits))).toBe('RP_ERR_LIMIT_EXCEEDED');
  });

  it('refuses an unparsable rule with RP_ERR_INVALID_MESSAGE', () => {
    expect(codeOf(() => verifyRegistration(message({ rules: ['/api/%zz'] }), identity, '127.0.0.1', limits))).toBe('RP_ERR_INVALID_MESSAGE');
  });

  it('refuses rules and targets outside the scope with RP_ERR_OUT_OF_SCOPE', () => {
    expect(codeOf(() => verifyRegistration(message({ rules: ['/'] }), identity, '127.0.0.1', limits))).toBe('RP_ERR_OUT_OF_SCOPE');
    expect(codeOf(() => verifyRegistration(message({ targets: [{ host: '10.0.0.1', port: 80 }] }), identity, '127.0.0.1', limits))).toBe('RP_ERR_OUT_OF_SCOPE');
    const unscoped = { ...identity, scope: {} };
    expect(() => verifyRegistration(message(), unscoped, '127.0.0.1', limits)).toThrow(/no rules in its scope/);
  });
});

describe('runGatekeepers', () => {
  const registration = verifyRegistration(message(), identity, '127.0.0.1', limits);

  it('resolves when every gatekeeper resolves, in order', async () => {
    const calls: string[] = [];
    await runGatekeepers([async () => void calls.push('a'), async () => void calls.push('b')], identity, registration, 1000);
    expect(calls).toEqual(['a', 'b']);
  });

  it('turns a rejection (or a synchronous throw) into RP_ERR_REJECTED with its reason and stops there', async () => {
    const calls: string[] = [];
    const gatekeepers = [
      () => {
        throw new Error('not on the list');
      },
      async () => void calls.push('never'),
    ];
    await expect(runGatekeepers(gatekeepers, identity, registration, 1000)).rejects.toMatchObject({ code: 'RP_ERR_REJECTED', message: expect.stringContaining('not on the list') });
    expect(calls).toEqual([]);
  });

  it('rejects a gatekeeper that does not answer in time', async () => {
    await expect(runGatekeepers([() => new Promise<void>(() => undefined)], identity, registration, 20)).rejects.toMatchObject({ code: 'RP_ERR_REJECTED', message: expect.stringContaining('20 ms') });
  });
});

describe('targetSetKey', () => {
  it('is independent of order', () => {
    const a = { protocol: 'http' as const, host: 'a', port: 1 };
    const b = { protocol: 'https' as const, host: 'b', port: 2 };
    expect(targetSetKey([a, b])).toBe(targetSetKey([b, a]));
  });
});
