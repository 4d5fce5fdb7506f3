import { describe, expect, it } from '@jest/globals';
import { resolveHealthCheckOption, TargetHealthCheck } from '../../../src/webserver-agent/target-health-check.js';
import { resolveRouteSettings } from '../../../src/webserver-agent/route-settings.js';

describe('resolveHealthCheckOption', () => {
  it('is off by default and resolves true, options and a function with defaults', () => {
    expect(resolveHealthCheckOption(undefined)).toBeUndefined();
    expect(resolveHealthCheckOption(false)).toBeUndefined();
    expect(resolveHealthCheckOption(true)).toMatchObject({ path: undefined, intervalMs: 2000, timeoutMs: 1000, unhealthyThreshold: 1, healthyThreshold: 1, expectStatus: 200 });
    const check = (): boolean => true;
    expect(resolveHealthCheckOption(check)).toMatchObject({ check });
    expect(resolveHealthCheckOption({ intervalMs: 300 })).toMatchObject({ intervalMs: 300, timeoutMs: 300 });
  });

  it.each([
    [{ path: 'healthz' }, 'healthCheck.path'],
    [{ intervalMs: 10 }, 'healthCheck.intervalMs'],
    [{ expectStatus: 700 }, 'healthCheck.expectStatus'],
    [{ unhealthyThreshold: 0 }, 'healthCheck.unhealthyThreshold'],
    [{ healthyThreshold: 101 }, 'healthCheck.healthyThreshold'],
    [{ check: 'yes' }, 'healthCheck.check'],
  ])('refuses %j naming %s', (options, name) => {
    expect(() => resolveHealthCheckOption(options as never)).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION', message: expect.stringContaining(name) }));
  });
});

describe('TargetHealthCheck thresholds', () => {
  it('turns unhealthy after unhealthyThreshold failures and healthy after healthyThreshold successes, emitting transitions once', async () => {
    const verdicts = [true, false, false, true, false, false, false, true, true, true];
    let index = 0;
    const options = resolveHealthCheckOption({ check: () => verdicts[index++] ?? true, unhealthyThreshold: 2, healthyThreshold: 2, intervalMs: 1000 })!;
    const check = new TargetHealthCheck(options, () => ({ host: '127.0.0.1', port: 1, protocol: 'http' }));
    const changes: [boolean, string][] = [];
    check.on('change', (healthy, reason) => changes.push([healthy, reason]));
    const states: boolean[] = [];
    for (let round = 0; round < verdicts.length; round += 1) {
      await check.runOnce();
      states.push(check.healthy);
    }
    expect(states).toEqual([true, true, false, false, false, false, false, false, true, true]);
    expect(changes).toEqual([
      [false, 'the check reported unhealthy'],
      [true, 'the check passed'],
    ]);
  });

  it('counts a check that throws as a failure, with the reason', async () => {
    const options = resolveHealthCheckOption({ check: () => { throw new Error('db down'); } })!;
    const check = new TargetHealthCheck(options, () => ({ host: '127.0.0.1', port: 1, protocol: 'http' }));
    await check.runOnce();
    expect(check.healthy).toBe(false);
    expect(check.reason).toContain('db down');
  });
});

describe('resolveRouteSettings', () => {
  it('keeps affinity, a lower-cased header and the body timeout', () => {
    expect(resolveRouteSettings({ affinity: 'hash', affinityHeader: 'X-User', bodyTimeoutMs: 0 })).toEqual({ affinity: 'hash', affinityHeader: 'x-user', bodyTimeoutMs: 0 });
    expect(resolveRouteSettings({})).toEqual({ affinity: undefined, affinityHeader: undefined, bodyTimeoutMs: undefined });
  });

  it.each([
    [{ affinity: 'sticky' }, 'affinity'],
    [{ affinity: 'cookie', affinityHeader: 'x' }, 'affinityHeader'],
    [{ affinity: 'hash', affinityHeader: 'a b' }, 'affinityHeader'],
    [{ bodyTimeoutMs: -5 }, 'bodyTimeoutMs'],
  ])('refuses %j naming %s', (options, name) => {
    expect(() => resolveRouteSettings(options as never)).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION', message: expect.stringContaining(name) }));
  });
});
