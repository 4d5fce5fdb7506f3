import { describe, expect, it } from '@jest/globals';
import { reservedRules } from '../../../src/proxy/control-plane/reserved-rules.js';
import type { TrustedKey } from '../../../src/shared/trust/trusted-key.js';

function key(id: string, rules?: string[]): TrustedKey {
  return { id, role: 'agent', scope: rules === undefined ? {} : { rules }, fingerprint: 'f', publicKey: {}, createdAt: '' } as unknown as TrustedKey;
}

describe('reservedRules', () => {
  it('collects every scope rule once, normalised, in a stable order, skipping entries that do not parse', () => {
    expect(reservedRules([key('A', ['/api/', 'shop.example/cart']), key('B', ['/api', '/(.*)']), key('C')])).toEqual([
      { path: '/api', host: undefined },
      { path: '/cart', host: 'shop.example' },
    ]);
  });

  it('is empty without keys', () => {
    expect(reservedRules([])).toEqual([]);
  });
});
