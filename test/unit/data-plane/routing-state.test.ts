import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { Forwarder } from '../../../src/proxy/data-plane/forwarder.js';
import { RoutingState } from '../../../src/proxy/data-plane/routing-state.js';
import { roundRobin } from '../../../src/proxy/data-plane/selectors/round-robin.js';
import { weightedRoundRobin } from '../../../src/proxy/data-plane/selectors/weighted-round-robin.js';
import { BackendRegistry } from '../../../src/proxy/registry/backend-registry.js';

/** A forwarder that only counts pool references. */
function fakeForwarder(): Forwarder & { references: Map<string, number> } {
  const references = new Map<string, number>();
  return {
    references,
    forward: () => undefined,
    retain: (origin) => references.set(origin, (references.get(origin) ?? 0) + 1),
    release: (origin) => {
      const count = (references.get(origin) ?? 0) - 1;
      if (count <= 0) references.delete(origin);
      else references.set(origin, count);
    },
    close: async () => undefined,
    destroy: async () => undefined,
  };
}

function target(port: number): { protocol: 'http'; host: string; port: number } {
  return { protocol: 'http', host: '127.0.0.1', port };
}

describe('RoutingState', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  function setup(failures = 3): { registry: BackendRegistry; state: RoutingState; forwarder: ReturnType<typeof fakeForwarder> } {
    const registry = new BackendRegistry();
    const forwarder = fakeForwarder();
    const state = new RoutingState(roundRobin, { failures, durationMs: 1_000 }, forwarder);
    registry.on('change', () => state.rebuild(registry.list()));
    return { registry, state, forwarder };
  }

  it('a deferred rebuild runs once, at the first lookup after any number of changes', () => {
    const registry = new BackendRegistry();
    const state = new RoutingState(roundRobin, { failures: 3, durationMs: 1_000 }, fakeForwarder());
    let rebuilds = 0;
    const rebuild = (): void => {
      rebuilds += 1;
      state.rebuild(registry.list());
    };
    registry.on('change', () => state.defer(rebuild));
    for (let i = 0; i < 50; i += 1) registry.add({ agentId: `a${i}`, targets: [target(1000 + i)], rules: [{ path: `/svc-${i}` }] });
    expect(rebuilds).toBe(0);
    expect(state.table.match(undefined, '/svc-49', 7)?.key).toBe('/svc-49');
    expect(state.table.match(undefined, '/svc-0', 6)?.key).toBe('/svc-0');
    expect(rebuilds).toBe(1);
  });

  it('setSelector (a live reload) swaps every route to the new policy and keeps the reserved rules (NO_TARGET, no fall-through)', () => {
    const { registry, state } = setup();
    registry.add({ agentId: 'a', targets: [target(1)], rules: [{ path: '/' }] });
    state.rebuild(registry.list(), [{ path: '/api' }]);
    const before = state.table.match(undefined, '/api/x', 6);
    expect(before).toMatchObject({ key: '/api', reserved: true });
    state.setSelector(weightedRoundRobin);
    expect(state.table.match(undefined, '/api/x', 6)).toMatchObject({ key: '/api', reserved: true });
    const catchAll = state.table.match(undefined, '/other', 6);
    expect(catchAll).toMatchObject({ key: '/', reserved: false });
    expect(catchAll?.selector).not.toBe(before?.selector);
  });

  it('merges the upstreams of every backend serving a rule, in registration order', () => {
    const { registry, state } = setup();
    registry.add({ agentId: 'a', targets: [target(1), target(2)], rules: [{ path: '/api' }] });
    registry.add({ agentId: 'b', targets: [target(3)], rules: [{ path: '/api' }, { path: '/b' }] });
    const snapshot = state.snapshot();
    expect(snapshot.map((route) => route.rule)).toEqual(['/api', '/b']);
    expect(snapshot[0]!.upstreams.map((upstream) => upstream.origin)).toEqual(['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3']);
  });

  it('keeps upstream and selector identity across rebuilds', () => {
    const { registry, state } = setup();
    registry.add({ agentId: 'a', targets: [target(1)], rules: [{ path: '/api' }] });
    const route = state.table.match(undefined, '/api', 4)!;
    const upstream = route.upstreams[0];
    registry.add({ agentId: 'b', targets: [target(2)], rules: [{ path: '/other' }] });
    const rebuilt = state.table.match(undefined, '/api', 4)!;
    expect(rebuilt).not.toBe(route);
    expect(rebuilt.selector).toBe(route.selector);
    expect(rebuilt.upstreams[0]).toBe(upstream);
  });

  it('shares one pool per origin and releases it when the last upstream is retired', () => {
    const { registry, forwarder } = setup();
    const a = registry.add({ agentId: 'a', targets: [target(1)], rules: [{ path: '/a' }] });
    const b = registry.add({ agentId: 'b', targets: [target(1)], rules: [{ path: '/b' }] });
    expect(forwarder.references.get('http://127.0.0.1:1')).toBe(2);
    registry.remove(a.id, 'left');
    expect(forwarder.references.get('http://127.0.0.1:1')).toBe(1);
    registry.remove(b.id, 'left');
    expect(forwarder.references.has('http://127.0.0.1:1')).toBe(false);
  });

  it('retires a removed upstream only after its in-flight work ends', async () => {
    const { registry, state, forwarder } = setup();
    const a = registry.add({ agentId: 'a', targets: [target(1)], rules: [{ path: '/a' }] });
    const upstream = state.table.match(undefined, '/a', 2)!.selector.select()!;
    upstream.acquire();
    expect(state.inFlight(a.id)).toBe(1);
    let idle = false;
    const waiting = state.whenIdle(a.id).then(() => (idle = true));
    registry.remove(a.id, 'left');
    expect(state.table.routes).toHaveLength(0);
    expect(forwarder.references.get('http://127.0.0.1:1')).toBe(1);
    await Promise.resolve();
    expect(idle).toBe(false);
    upstream.release();
    await waiting;
    expect(forwarder.references.has('http://127.0.0.1:1')).toBe(false);
    expect(state.load.inFlight).toBe(0);
  });

  it('marks draining backends unavailable', () => {
    const { registry, state } = setup();
    const a = registry.add({ agentId: 'a', targets: [target(1)], rules: [{ path: '/a' }] });
    registry.setState(a.id, 'draining');
    const route = state.table.match(undefined, '/a', 2)!;
    expect(route.selector.select()).toBeUndefined();
    expect(state.snapshot()[0]!.upstreams[0]!.state).toBe('draining');
  });

  it('ejects after N consecutive connect failures and re-admits after the period', () => {
    jest.useFakeTimers();
    const { registry, state } = setup(2);
    registry.add({ agentId: 'a', targets: [target(1)], rules: [{ path: '/a' }] });
    const upstream = state.table.match(undefined, '/a', 2)!.upstreams[0]!;
    upstream.connectFailed('ECONNREFUSED');
    expect(upstream.available).toBe(true);
    upstream.succeeded();
    upstream.connectFailed('ECONNREFUSED');
    expect(upstream.available).toBe(true);
    upstream.connectFailed('ECONNREFUSED');
    expect(upstream.available).toBe(false);
    expect(upstream.snapshot()).toMatchObject({ state: 'ejected', consecutiveFailures: 2, lastError: 'ECONNREFUSED' });
    jest.advanceTimersByTime(1_000);
    expect(upstream.available).toBe(true);
    // Half-open: one more failure ejects again at once.
    upstream.connectFailed('ECONNREFUSED');
    expect(upstream.available).toBe(false);
    state.clear();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('never ejects with failures set to 0', () => {
    const { registry, state } = setup(0);
    registry.add({ agentId: 'a', targets: [target(1)], rules: [{ path: '/a' }] });
    const upstream = state.table.match(undefined, '/a', 2)!.upstreams[0]!;
    for (let index = 0; index < 10; index += 1) upstream.connectFailed('ECONNREFUSED');
    expect(upstream.available).toBe(true);
  });
});
