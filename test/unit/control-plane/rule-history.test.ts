import { describe, expect, it } from '@jest/globals';
import { RuleHistory } from '../../../src/proxy/control-plane/rule-history.js';

describe('RuleHistory (distinct rules per key over time)', () => {
  it('fix-issue-14-rule-churn: admits up to the cap of distinct rules per key, then refuses new ones', () => {
    const history = new RuleHistory(4, 1000, () => 0);
    expect(history.admit('a', ['/1', '/2'])).toBe(true);
    expect(history.admit('a', ['/1', '/2', '/3'])).toBe(true);
    // Rules already seen cost nothing: re-registering the same set always passes.
    expect(history.admit('a', ['/1', '/2', '/3'])).toBe(true);
    expect(history.admit('a', ['/4', '/5'])).toBe(false);
    expect(history.count('a')).toBe(3);
    expect(history.admit('a', ['/4'])).toBe(true);
    // Another key has its own budget.
    expect(history.admit('b', ['/x', '/y', '/z', '/w'])).toBe(true);
  });

  it('forgets rules older than the window, and a removed key', () => {
    let now = 0;
    const history = new RuleHistory(2, 1000, () => now);
    expect(history.admit('a', ['/1', '/2'])).toBe(true);
    expect(history.admit('a', ['/3'])).toBe(false);
    now = 1001;
    expect(history.admit('a', ['/3'])).toBe(true);
    expect(history.count('a')).toBe(1);
    history.forget('a');
    expect(history.count('a')).toBe(0);
  });

  it('counts a rule listed twice once', () => {
    const history = new RuleHistory(1, 1000);
    expect(history.admit('a', ['/1', '/1'])).toBe(true);
  });
});
