import { describe, it, expect } from '@jest/globals';
import { availableParallelism } from 'node:os';
import { resolveClusterOptions, resolveWorkers } from '../../../src/proxy/cluster/cluster-options.js';

const base = { control: false as const };

describe('resolveClusterOptions', () => {
  it('applies defaults and freezes', () => {
    const options = resolveClusterOptions({ ...base, workers: 2 });
    expect(options).toMatchObject({
      workers: 2,
      dataPlane: { host: '0.0.0.0', port: 3080, tlsPort: 3443, tls: undefined, trustedProxies: [], shutdownTimeoutMs: 10_000 },
      control: undefined,
      logLevel: 'info',
      logFormat: 'json',
      reportIntervalMs: 1000,
      respawnDelayMs: 200,
      respawnMaxDelayMs: 10_000,
    });
    expect(Object.isFrozen(options) && Object.isFrozen(options.dataPlane)).toBe(true);
  });

  it('passes the certificate on as PEM strings (workers get it over IPC)', () => {
    const options = resolveClusterOptions({ ...base, workers: 1, tls: { cert: Buffer.from('-----BEGIN CERTIFICATE-----\nx'), key: '-----BEGIN PRIVATE KEY-----\ny' } });
    expect(typeof options.dataPlane.tls?.cert).toBe('string');
    expect(typeof options.dataPlane.tls?.key).toBe('string');
  });

  it('resolves auto to the available parallelism', () => {
    expect(resolveWorkers('auto')).toBe(Math.min(64, availableParallelism()));
  });

  it.each([0, 65, 1.5, '2', undefined])('rejects workers=%s naming the option and range', (workers) => {
    expect(() => resolveClusterOptions({ ...base, workers: workers as number })).toThrow(
      expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION', message: expect.stringContaining('workers: expected an integer from 1 to 64') }),
    );
  });

  it.each([
    ['reportIntervalMs', 50, 'reportIntervalMs: expected an integer from 100 to 60000'],
    ['respawnDelayMs', 5, 'respawnDelayMs: expected an integer from 10 to 60000'],
    ['respawnMaxDelayMs', 100, 'respawnMaxDelayMs: expected an integer from 200'],
    ['logLevel', 'loud', 'logLevel: expected one of'],
    ['logFormat', 'yaml', 'logFormat: expected json or pretty'],
    ['workerExec', '', 'workerExec: expected a module path'],
  ])('rejects %s=%s', (name, value, message) => {
    expect(() => resolveClusterOptions({ ...base, workers: 1, [name]: value })).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION', message: expect.stringContaining(message) }));
  });

  it('validates the shared options with ProxyServer\'s rules', () => {
    expect(() => resolveClusterOptions({ workers: 1 })).toThrow(expect.objectContaining({ message: expect.stringContaining('control: the control plane needs a certificate') }));
    expect(() => resolveClusterOptions({ ...base, workers: 1, port: 70000 })).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION' }));
  });

  it('gives the workers every plain data-plane option, the selector by name and the access log as the option', () => {
    const options = resolveClusterOptions({ ...base, workers: 2, selector: 'weighted', responseTimeoutMs: 1500, noTargetStatus: 404, accessLog: { query: true }, upstreamCa: Buffer.from('PEM') });
    expect(options.dataPlane.settings).toMatchObject({ selector: 'weighted', responseTimeoutMs: 1500, noTargetStatus: 404, accessLog: { query: true }, upstreamCa: 'PEM' });
    expect(options.dataPlane.settings).not.toHaveProperty('accessLogQuery');
  });

  it('refuses a selector factory (it cannot reach the workers)', () => {
    const factory = (() => ({ select: () => undefined, update: () => undefined })) as never;
    expect(() => resolveClusterOptions({ ...base, workers: 2, selector: factory })).toThrow(expect.objectContaining({ message: expect.stringContaining('selector: in a cluster, one of') }));
  });
});
