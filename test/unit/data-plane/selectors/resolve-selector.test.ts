import { describe, expect, it } from '@jest/globals';
import { SELECTORS, resolveSelector, roundRobin } from '../../../../src/proxy/data-plane/selectors/index.js';

describe('resolveSelector', () => {
  it('resolves the built-in names', () => {
    expect(resolveSelector('round-robin')).toBe(roundRobin);
    expect(Object.keys(SELECTORS).sort()).toEqual(['least-in-flight', 'round-robin', 'weighted']);
  });

  it('accepts a factory', () => {
    const factory = roundRobin;
    expect(resolveSelector(factory)).toBe(factory);
  });

  it('refuses anything else with RP_ERR_INVALID_OPTION', () => {
    expect(() => resolveSelector('random')).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION' }));
    expect(() => resolveSelector('toString')).toThrow(/selector must be one of/);
    expect(() => resolveSelector(42)).toThrow(/selector must be one of/);
  });
});
