import { describe, expect, it } from '@jest/globals';
import {
  DEFAULT_CONTROL_PORT,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_MAX_FRAME_BYTES,
  resolveControlPlaneOptions,
  type ControlPlaneOptions,
} from '../../../src/proxy/control-plane/control-plane-options.js';
import { ControlPlane } from '../../../src/proxy/control-plane/control-plane.js';
import { TrustStore } from '../../../src/shared/trust/index.js';
import { BackendRegistry } from '../../../src/proxy/registry/backend-registry.js';

const base = (): ControlPlaneOptions => ({ registry: new BackendRegistry(), trustStore: TrustStore.inMemory(), insecure: true });

function invalid(options: Partial<ControlPlaneOptions>): string {
  try {
    resolveControlPlaneOptions({ ...base(), ...options } as ControlPlaneOptions);
  } catch (error) {
    expect(error).toMatchObject({ code: 'RP_ERR_INVALID_OPTION' });
    return (error as Error).message;
  }
  throw new Error('expected InvalidOptionError');
}

describe('resolveControlPlaneOptions', () => {
  it('applies documented defaults and freezes the result', () => {
    const resolved = resolveControlPlaneOptions(base());
    expect(resolved.audience).toBeUndefined();
    expect(resolved).toMatchObject({ host: '0.0.0.0', port: DEFAULT_CONTROL_PORT, heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS, missedPongs: 2 });
    expect(resolved.limits).toMatchObject({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES, registerTimeoutMs: 10_000, messagesPerSecond: 20, burst: 40, maxBufferedBytes: 16 * DEFAULT_MAX_FRAME_BYTES });
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(Object.isFrozen(resolved.limits)).toBe(true);
  });

  it('gives admin sessions their own frame budget and unknown keys a quarter of the pending handshakes', () => {
    expect(resolveControlPlaneOptions(base()).limits).toMatchObject({ adminMessagesPerSecond: 100, adminBurst: 200, maxPendingHandshakes: 64, maxPendingUnknownHandshakes: 16 });
    expect(resolveControlPlaneOptions({ ...base(), limits: { maxPendingHandshakes: 2 } }).limits.maxPendingUnknownHandshakes).toBe(1);
    expect(invalid({ limits: { maxPendingHandshakes: 8, maxPendingUnknownHandshakes: 9 } })).toMatch(/^limits\.maxPendingUnknownHandshakes: expected an integer from 1 to 8/);
    expect(invalid({ limits: { adminMessagesPerSecond: 0 } })).toMatch(/^limits\.adminMessagesPerSecond:/);
    expect(invalid({ limits: { adminBurst: 0 } })).toMatch(/^limits\.adminBurst:/);
  });

  it('requires tls unless insecure is set, and refuses both', () => {
    expect(invalid({ insecure: undefined })).toMatch(/^tls:/);
    expect(invalid({ tls: { cert: 'x', key: 'y' } })).toMatch(/^insecure:/);
    expect(invalid({ insecure: false, tls: { cert: '', key: 'y' } })).toMatch(/^tls:/);
  });

  it('names each out-of-range option', () => {
    expect(invalid({ port: 70_000 })).toMatch(/^port: expected an integer from 0 to 65535/);
    expect(invalid({ heartbeatIntervalMs: 1 })).toMatch(/^heartbeatIntervalMs:/);
    expect(invalid({ missedPongs: 0 })).toMatch(/^missedPongs:/);
    expect(invalid({ audience: '' })).toMatch(/^audience:/);
    expect(invalid({ limits: { maxFrameBytes: 10 } })).toMatch(/^limits\.maxFrameBytes:/);
    expect(invalid({ limits: { messagesPerSecond: 0 } })).toMatch(/^limits\.messagesPerSecond:/);
    expect(invalid({ limits: { burst: 0.5 } })).toMatch(/^limits\.burst:/);
    expect(invalid({ limits: { maxSessionsPerKey: 0 } })).toMatch(/^limits\.maxSessionsPerKey:/);
    expect(invalid({ limits: { maxRulesPerRegistration: 257 } })).toMatch(/^limits\.maxRulesPerRegistration:/);
    expect(invalid({ limits: { maxPendingHandshakes: 0 } })).toMatch(/^limits\.maxPendingHandshakes:/);
    expect(invalid({ gatekeepers: ['no'] as never })).toMatch(/^gatekeepers:/);
    expect(invalid({ allowedRoles: [] })).toMatch(/^allowedRoles:/);
    expect(invalid({ allowedRoles: ['root'] as never })).toMatch(/^allowedRoles:/);
  });
});

describe('ControlPlane constructor', () => {
  it('refuses an unusable certificate with RP_ERR_TLS', () => {
    expect(() => new ControlPlane({ ...base(), insecure: false, tls: { cert: 'not a cert', key: 'not a key' } })).toThrow(expect.objectContaining({ code: 'RP_ERR_TLS' }));
  });

  it('refuses a missing registry or trust store', () => {
    expect(() => new ControlPlane({ ...base(), registry: undefined as never })).toThrow(/registry/);
    expect(() => new ControlPlane({ ...base(), trustStore: undefined as never })).toThrow(/trustStore/);
  });

  it('is IDLE before start and has no address', () => {
    const controlPlane = new ControlPlane(base());
    expect(controlPlane.state).toBe('IDLE');
    expect(() => controlPlane.address).toThrow(expect.objectContaining({ code: 'RP_ERR_NOT_RUNNING' }));
    expect(controlPlane.pin).toBeUndefined();
  });
});
