import { describe, it, expect } from '@jest/globals';
import { isConnectionRefused, nextBackoffDelay, resolveBackoffOptions, unreachableBackoff, UNREACHABLE_MAX_DELAY_MS } from '../../../src/webserver-agent/backoff.js';

const noJitter = { jitter: 0 };

describe('nextBackoffDelay', () => {
  it('grows exponentially from initialDelayMs by factor', () => {
    expect([0, 1, 2, 3, 4].map((attempt) => nextBackoffDelay(attempt, noJitter))).toEqual([250, 500, 1000, 2000, 4000]);
  });

  it('is capped at maxDelayMs, also for huge attempts', () => {
    expect(nextBackoffDelay(6, noJitter)).toBe(10_000);
    expect(nextBackoffDelay(Number.MAX_SAFE_INTEGER, noJitter)).toBe(10_000);
    expect(nextBackoffDelay(1e9, { initialDelayMs: 100, maxDelayMs: 400, factor: 3, jitter: 0 })).toBe(400);
  });

  it('randomises the share `jitter` downwards: [base * (1 - jitter), base]', () => {
    expect(nextBackoffDelay(2, { jitter: 0.5 }, () => 0)).toBe(1000);
    expect(nextBackoffDelay(2, { jitter: 0.5 }, () => 0.5)).toBe(750);
    expect(nextBackoffDelay(2, { jitter: 0.5 }, () => 0.999_999)).toBe(500);
    expect(nextBackoffDelay(2, { jitter: 1 }, () => 0.999_999)).toBe(1);
  });

  it('never goes below 1 ms nor above maxDelayMs, whatever random returns', () => {
    for (const r of [-1, 0, 0.3, 1, 2, Number.NaN]) {
      const delay = nextBackoffDelay(50, {}, () => r);
      expect(delay).toBeGreaterThanOrEqual(1);
      expect(delay).toBeLessThanOrEqual(10_000);
    }
  });

  it('treats a negative or fractional attempt as its floor, at least 0', () => {
    expect(nextBackoffDelay(-3, noJitter)).toBe(250);
    expect(nextBackoffDelay(1.7, noJitter)).toBe(500);
  });

  it('keeps a constant delay with factor 1', () => {
    expect(nextBackoffDelay(10, { factor: 1, jitter: 0 })).toBe(250);
  });
});

describe('resolveBackoffOptions', () => {
  it('applies the documented defaults and freezes', () => {
    const resolved = resolveBackoffOptions();
    expect(resolved).toEqual({ initialDelayMs: 250, maxDelayMs: 10_000, factor: 2, jitter: 0.5 });
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it.each([
    [{ initialDelayMs: 0 }, 'reconnect.initialDelayMs'],
    [{ maxDelayMs: 100 }, 'reconnect.maxDelayMs'],
    [{ factor: 0.5 }, 'reconnect.factor'],
    [{ jitter: 1.5 }, 'reconnect.jitter'],
    [{ jitter: Number.NaN }, 'reconnect.jitter'],
  ])('rejects %j naming %s', (options, name) => {
    expect(() => resolveBackoffOptions(options)).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION', message: expect.stringContaining(name) }));
  });

  it('raises the default maxDelayMs to a larger initialDelayMs', () => {
    expect(resolveBackoffOptions({ initialDelayMs: 20_000 }).maxDelayMs).toBe(20_000);
  });
});

describe('backoff after a refused connection (a restarting proxy)', () => {
  it('follows the same curve but stays at or below UNREACHABLE_MAX_DELAY_MS', () => {
    const options = unreachableBackoff(resolveBackoffOptions(noJitter));
    expect([0, 1, 2, 3, 4, 10].map((attempt) => nextBackoffDelay(attempt, options))).toEqual([250, 500, 1000, 2000, 2000, 2000]);
    expect(UNREACHABLE_MAX_DELAY_MS).toBe(2000);
  });

  it('never exceeds a smaller maxDelayMs nor goes below a larger initialDelayMs', () => {
    expect(unreachableBackoff(resolveBackoffOptions({ initialDelayMs: 10, maxDelayMs: 100 })).maxDelayMs).toBe(100);
    expect(unreachableBackoff(resolveBackoffOptions({ initialDelayMs: 5000 })).maxDelayMs).toBe(5000);
  });

  it('recognises ECONNREFUSED on the error or along its causes, and nothing else', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(isConnectionRefused(refused)).toBe(true);
    expect(isConnectionRefused(new Error('cannot connect', { cause: refused }))).toBe(true);
    expect(isConnectionRefused(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(false);
    expect(isConnectionRefused('ECONNREFUSED')).toBe(false);
  });
});
