/** What a reload changes: live options versus restart-only ones, and the settings a host applies. */
import { describe, expect, it } from '@jest/globals';
import { diffConfig, liveSettings } from '../../../src/proxy/config/config-changes.js';
import { loadConfig } from '../../../src/proxy/config/load-config.js';

async function values(variables: Record<string, string>): Promise<Record<string, unknown>> {
  return (await loadConfig({ variables, cwd: '/nonexistent' })).values;
}

describe('diffConfig', () => {
  it('splits changed options into live and restart-only, in schema order', async () => {
    const before = await values({});
    const after = await values({ PROXY_SELECTOR: 'weighted', PROXY_PORT: '81', LOG_LEVEL: 'debug', PROXY_WS_PORT: '4000' });
    expect(diffConfig(before, after)).toEqual({ live: ['selector', 'logLevel'], restart: ['port', 'control.port'] });
    expect(diffConfig(before, before)).toEqual({ live: [], restart: [] });
  });

  it('reports a section turned off as that one change', async () => {
    const before = { admin: { host: '127.0.0.1', port: 3090 } };
    expect(diffConfig(before, { admin: false })).toEqual({ live: [], restart: ['admin'] });
  });
});

describe('liveSettings', () => {
  it('routes data-plane options, control-plane limits and the log level to their part', async () => {
    const after = await values({ PROXY_SELECTOR: 'weighted', PROXY_TRUSTED_PROXIES: '10.0.0.1', LOG_LEVEL: 'warn' });
    const settings = liveSettings(after, ['selector', 'trustedProxies', 'control.limits.burst', 'logLevel']);
    expect(settings).toMatchObject({ dataPlane: { selector: 'weighted', trustedProxies: ['10.0.0.1'] }, limits: { burst: 40, maxSessionsPerKey: 8 }, logLevel: 'warn' });
    // Limits go whole, computed ones unset, so that they are computed again from the new values.
    expect(Object.hasOwn(settings.limits!, 'maxPendingUnknownHandshakes')).toBe(true);
    expect(settings.limits!.maxPendingUnknownHandshakes).toBeUndefined();
    expect(Object.hasOwn(settings.limits!, 'maxFrameBytes')).toBe(false);
    expect(liveSettings(after, [])).toEqual({});
  });
});
