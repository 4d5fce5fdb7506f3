import { describe, expect, it } from '@jest/globals';
import { generateRequestId, isValidRequestId } from '../../../src/proxy/data-plane/request-id.js';

describe('request ids', () => {
  it('accepts 1 to 128 characters of [A-Za-z0-9._-]', () => {
    expect(isValidRequestId('a')).toBe(true);
    expect(isValidRequestId('A-z_0.9')).toBe(true);
    expect(isValidRequestId('x'.repeat(128))).toBe(true);
  });

  it('refuses empty, long or other characters', () => {
    expect(isValidRequestId('')).toBe(false);
    expect(isValidRequestId('x'.repeat(129))).toBe(false);
    expect(isValidRequestId('a b')).toBe(false);
    expect(isValidRequestId('a\r\nb')).toBe(false);
    expect(isValidRequestId('é')).toBe(false);
  });

  it('generates distinct valid ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, generateRequestId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(isValidRequestId(id)).toBe(true);
  });
});
