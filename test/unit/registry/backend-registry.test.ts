import { describe, expect, it } from '@jest/globals';
import { BackendRegistry } from '../../../src/proxy/registry/backend-registry.js';
import type { Backend, RemovalReason } from '../../../src/proxy/registry/backend.js';
import { isProxyError } from '../../../src/shared/errors.js';

const input = {
  agentId: 'WEB001',
  targets: [{ protocol: 'http' as const, host: '127.0.0.1', port: 4242 }],
  rules: [{ path: '/api' }],
};

describe('BackendRegistry', () => {
  it('adds a backend with a generated id, ready state and default weight, and emits added then change', () => {
    const registry = new BackendRegistry();
    const events: string[] = [];
    registry.on('added', () => events.push('added'));
    registry.on('change', () => events.push('change'));
    const backend = registry.add(input);
    expect(backend).toMatchObject({ agentId: 'WEB001', state: 'ready', weight: 1 });
    expect(registry.get(backend.id)).toBe(backend);
    expect(events).toEqual(['added', 'change']);
    expect(Object.isFrozen(backend)).toBe(true);
  });

  it('gives each registration of the same agent a distinct id', () => {
    const registry = new BackendRegistry();
    expect(registry.add(input).id).not.toBe(registry.add(input).id);
  });

  it('removes once and reports the reason; a second removal returns false', () => {
    const registry = new BackendRegistry();
    const removed: Array<[Backend, RemovalReason]> = [];
    registry.on('removed', (backend, reason) => removed.push([backend, reason]));
    const backend = registry.add(input);
    expect(registry.remove(backend.id, 'revoked')).toBe(true);
    expect(registry.remove(backend.id, 'revoked')).toBe(false);
    expect(removed).toEqual([[backend, 'revoked']]);
    expect(registry.size).toBe(0);
  });

  it('changes state to draining and bumps the version', () => {
    const registry = new BackendRegistry();
    const backend = registry.add(input);
    const before = registry.version;
    expect(registry.setState(backend.id, 'draining')?.state).toBe('draining');
    expect(registry.version).toBe(before + 1);
    expect(registry.setState('nope', 'draining')).toBeUndefined();
  });

  it.each([0, 1001, 1.5])('rejects weight %p with RP_ERR_INVALID_OPTION', (weight) => {
    const registry = new BackendRegistry();
    let caught: unknown;
    try {
      registry.add({ ...input, weight });
    } catch (error) {
      caught = error;
    }
    expect(isProxyError(caught, 'RP_ERR_INVALID_OPTION')).toBe(true);
  });
});
