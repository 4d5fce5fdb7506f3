import { describe, expect, it } from '@jest/globals';
import { daysLeft, renewalTime, retryDelay } from '../../../src/proxy/acme/renewal-schedule.js';

const DAY = 86_400_000;

describe('renewal schedule', () => {
  it('renews a 90-day certificate on day 60 at 2/3', () => {
    expect(renewalTime(0, 90 * DAY, 2 / 3)).toBe(60 * DAY);
  });

  it('counts whole days left, negative once expired', () => {
    expect(daysLeft(10 * DAY, DAY / 2)).toBe(9);
    expect(daysLeft(DAY, 3 * DAY)).toBe(-2);
  });

  it('backs off exponentially from the minimum to the maximum', () => {
    expect(retryDelay(1, 1000, 60_000, 0)).toBe(1000);
    expect(retryDelay(2, 1000, 60_000, 0)).toBe(2000);
    expect(retryDelay(4, 1000, 60_000, 0)).toBe(8000);
    expect(retryDelay(50, 1000, 60_000, 0)).toBe(60_000);
  });

  it('jitters by at most a quarter, never below the minimum', () => {
    expect(retryDelay(3, 1000, 60_000, 0.999)).toBeGreaterThanOrEqual(3000);
    expect(retryDelay(3, 1000, 60_000, 0.999)).toBeLessThan(4000);
    expect(retryDelay(1, 1000, 60_000, 0.999)).toBe(1000);
  });
});
