import { describe, it, expect } from '@jest/globals';
import { BackendRegistry } from '../../../src/proxy/registry/backend-registry.js';
import type { Backend } from '../../../src/proxy/registry/backend.js';
import { RegistryReplica } from '../../../src/proxy/cluster/registry-replica.js';

/** A primary registry with `count` backends, and its records as they would cross IPC. */
function primaryWith(count: number): { primary: BackendRegistry; wire: () => Backend[] } {
  const primary = new BackendRegistry();
  for (let index = 0; index < count; index += 1) {
    primary.add({ agentId: `A${index}`, targets: [{ protocol: 'http', host: '127.0.0.1', port: 4000 + index }], rules: [{ path: `/r${index}` }] });
  }
  return { primary, wire: () => JSON.parse(JSON.stringify(primary.list())) as Backend[] };
}

describe('BackendRegistry.restore', () => {
  it('adds a record with its own id, state and time, emitting added and change', () => {
    const { wire } = primaryWith(1);
    const [record] = wire();
    const replica = new BackendRegistry();
    const events: string[] = [];
    replica.on('added', () => events.push('added'));
    replica.on('change', () => events.push('change'));
    const restored = replica.restore({ ...record!, state: 'draining' });
    expect(restored).toEqual({ ...record, state: 'draining' });
    expect(Object.isFrozen(restored) && Object.isFrozen(restored.targets)).toBe(true);
    expect(replica.get(record!.id)).toBe(restored);
    expect(events).toEqual(['added', 'change']);
  });

  it('emits updated for a changed record and nothing for an identical one', () => {
    const [record] = primaryWith(1).wire();
    const replica = new BackendRegistry();
    replica.restore(record!);
    const events: string[] = [];
    replica.on('updated', (backend) => events.push(`updated:${backend.state}`));
    replica.on('change', () => events.push('change'));
    const version = replica.version;
    replica.restore(record!);
    expect(replica.version).toBe(version);
    replica.restore({ ...record!, state: 'draining' });
    expect(events).toEqual(['updated:draining', 'change']);
  });

  it('does not advance the id sequence of add()', () => {
    const [record] = primaryWith(1).wire();
    const replica = new BackendRegistry();
    replica.restore({ ...record!, id: 'P#7' });
    const added = replica.add({ agentId: 'Q', targets: [{ protocol: 'http', host: '127.0.0.1', port: 5000 }], rules: [{ path: '/x' }] });
    expect(added.id).toBe('Q#1');
    expect(replica.list().map((backend) => backend.id)).toEqual(['P#7', 'Q#1']);
  });

  it.each([
    ['a weight out of range', { weight: 0 }, 'weight must be an integer from 1 to 1000'],
    ['no targets', { targets: [] }, 'at least one target'],
    ['no rules', { rules: [] }, 'at least one rule'],
  ])('refuses %s with RP_ERR_INVALID_OPTION', (_name, change, message) => {
    const [record] = primaryWith(1).wire();
    expect(() => new BackendRegistry().restore({ ...record!, ...change })).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION', message: expect.stringContaining(message) }));
  });
});

describe('RegistryReplica', () => {
  it('mirrors a snapshot, then ordered changes, with the primary ids', () => {
    const { primary, wire } = primaryWith(2);
    const local = new BackendRegistry();
    const replica = new RegistryReplica(local);
    expect(replica.apply({ type: 'inteli.snapshot', version: primary.version, backends: wire() })).toBe('applied');
    expect(local.list()).toEqual(primary.list());
    const added = primary.add({ agentId: 'B', targets: [{ protocol: 'http', host: '127.0.0.1', port: 4100 }], rules: [{ path: '/b' }] });
    expect(replica.apply({ type: 'inteli.added', version: primary.version, backend: added })).toBe('applied');
    const drained = primary.setState(added.id, 'draining')!;
    expect(replica.apply({ type: 'inteli.updated', version: primary.version, backend: drained })).toBe('applied');
    primary.remove('A0#1', 'left');
    expect(replica.apply({ type: 'inteli.removed', version: primary.version, backendId: 'A0#1', reason: 'left' })).toBe('applied');
    expect(local.list()).toEqual(primary.list());
    expect(replica.version).toBe(primary.version);
  });

  it('mirrors reserved rules and route settings (affinity, body timeout, unhealthy) in snapshots and changes', () => {
    const { primary, wire } = primaryWith(1);
    primary.setReserved([{ path: '/api' }]);
    const local = new BackendRegistry();
    const replica = new RegistryReplica(local);
    replica.apply({ type: 'inteli.snapshot', version: primary.version, backends: wire(), reserved: primary.reserved });
    expect(local.reserved).toEqual([{ path: '/api', host: undefined }]);
    primary.setReserved([{ path: '/api' }, { path: '/web', host: 'a.example' }]);
    expect(replica.apply({ type: 'inteli.reserved', version: primary.version, rules: primary.reserved })).toBe('applied');
    expect(local.reserved).toEqual(primary.reserved);
    const sticky = primary.add({ agentId: 'S', targets: [{ protocol: 'http', host: '127.0.0.1', port: 4300 }], rules: [{ path: '/s' }], affinity: 'hash', affinityHeader: 'x-user', bodyTimeoutMs: 0, state: 'unhealthy' });
    expect(replica.apply({ type: 'inteli.added', version: primary.version, backend: JSON.parse(JSON.stringify(sticky)) as typeof sticky })).toBe('applied');
    expect(local.get(sticky.id)).toEqual(sticky);
  });

  it('ignores changes before the first snapshot and repeated versions', () => {
    const { primary, wire } = primaryWith(1);
    const local = new BackendRegistry();
    const replica = new RegistryReplica(local);
    expect(replica.apply({ type: 'inteli.removed', version: 5, backendId: 'A0#1', reason: 'left' })).toBe('ignored');
    replica.apply({ type: 'inteli.snapshot', version: primary.version, backends: wire() });
    expect(replica.apply({ type: 'inteli.removed', version: primary.version, backendId: 'A0#1', reason: 'left' })).toBe('ignored');
    expect(local.size).toBe(1);
  });

  it('asks for a resync once on a version gap, drops changes until the snapshot, then follows again', () => {
    const { primary, wire } = primaryWith(1);
    const local = new BackendRegistry();
    const replica = new RegistryReplica(local);
    replica.apply({ type: 'inteli.snapshot', version: primary.version, backends: wire() });
    const skipped = primary.add({ agentId: 'B', targets: [{ protocol: 'http', host: '127.0.0.1', port: 4100 }], rules: [{ path: '/b' }] });
    const next = primary.add({ agentId: 'C', targets: [{ protocol: 'http', host: '127.0.0.1', port: 4200 }], rules: [{ path: '/c' }] });
    expect(replica.apply({ type: 'inteli.added', version: primary.version, backend: next })).toBe('resync');
    expect(replica.version).toBeUndefined();
    expect(replica.apply({ type: 'inteli.added', version: primary.version + 1, backend: next })).toBe('ignored');
    expect(local.get(next.id)).toBeUndefined();
    expect(replica.apply({ type: 'inteli.snapshot', version: primary.version, backends: wire() })).toBe('applied');
    expect(local.list().map((backend) => backend.id)).toEqual(['A0#1', skipped.id, next.id]);
  });

  it('removes on a snapshot what the primary no longer has', () => {
    const { primary, wire } = primaryWith(2);
    const local = new BackendRegistry();
    const replica = new RegistryReplica(local);
    replica.apply({ type: 'inteli.snapshot', version: primary.version, backends: wire() });
    const removed: string[] = [];
    local.on('removed', (backend, reason) => removed.push(`${backend.id}:${reason}`));
    primary.remove('A1#2', 'timeout');
    replica.apply({ type: 'inteli.snapshot', version: primary.version, backends: wire() });
    expect(removed).toEqual(['A1#2:left']);
    expect(local.list()).toEqual(primary.list());
  });

  it('turns a record the registry refuses into a resync instead of throwing', () => {
    const { primary, wire } = primaryWith(1);
    const replica = new RegistryReplica(new BackendRegistry());
    replica.apply({ type: 'inteli.snapshot', version: primary.version, backends: wire() });
    const [record] = wire();
    expect(replica.apply({ type: 'inteli.updated', version: primary.version + 1, backend: { ...record!, weight: 5000 } })).toBe('resync');
  });
});
