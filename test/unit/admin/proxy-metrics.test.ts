import { describe, it, expect } from '@jest/globals';
import { ProxyMetrics, type MetricsSource } from '../../../src/proxy/admin/proxy-metrics.js';
import type { DataPlaneSnapshot } from '../../../src/proxy/data-plane/data-plane.js';
import { TrafficStats } from '../../../src/proxy/data-plane/traffic-stats.js';
import type { UpstreamSnapshot } from '../../../src/proxy/data-plane/upstream.js';
import { BackendRegistry } from '../../../src/proxy/registry/backend-registry.js';
import { sample } from '../../integration/admin/admin-client.js';

function upstream(backendId: string, state: UpstreamSnapshot['state']): UpstreamSnapshot {
  return {
    key: `${backendId}|http://127.0.0.1:1`,
    backendId,
    agentId: backendId.split('#')[0]!,
    origin: 'http://127.0.0.1:1',
    weight: 1,
    state,
    inFlight: 0,
    consecutiveFailures: 0,
    ejectedUntil: undefined,
    lastError: undefined,
  };
}

function fixture(): { source: MetricsSource; stats: TrafficStats; snapshot: { value: DataPlaneSnapshot }; registry: BackendRegistry; metrics: ProxyMetrics } {
  const stats = new TrafficStats();
  const snapshot = { value: { state: 'running', inFlight: 3, tunnels: 2, routes: [] } as DataPlaneSnapshot };
  const source: MetricsSource = {
    forwarding: {
      snapshot: () => snapshot.value,
      stats,
      clientBytes: () => ({ bytesIn: 100, bytesOut: 2000 }),
    },
    controlPlane: {
      stats: () => ({
      upgradesAccepted: 4,
      upgradesRefused: { unauthorized: 3, revoked: 1 },
      unauthorized: { expired: 2, replay: 1 },
      limitBreaches: { rate: 1 },
      evictions: 2,
      registrations: 4,
      registrationsRefused: { RP_ERR_OUT_OF_SCOPE: 1 },
      backendsRemoved: {},
      sessions: 5,
      pendingHandshakes: 1,
      }),
    },
  };
  const registry = new BackendRegistry();
  return { source, stats, snapshot, registry, metrics: new ProxyMetrics(source, registry) };
}

describe('ProxyMetrics', () => {
  it('formats the latency histogram per rule with cumulative buckets, summed over agents', async () => {
    const { stats, metrics } = fixture();
    const a = stats.pair('/api', 'a');
    const b = stats.pair('/api', 'b');
    a.observeLatency(0.001);
    a.observeLatency(0.2);
    b.observeLatency(0.003);
    b.observeLatency(30);
    const text = (await metrics.exposition()).body;
    expect(text).toContain('# TYPE inteli_upstream_latency_seconds histogram');
    expect(sample(text, 'inteli_upstream_latency_seconds_bucket', { rule: '/api', le: '0.005' })).toBe(2);
    expect(sample(text, 'inteli_upstream_latency_seconds_bucket', { rule: '/api', le: '0.1' })).toBe(2);
    expect(sample(text, 'inteli_upstream_latency_seconds_bucket', { rule: '/api', le: '0.25' })).toBe(3);
    expect(sample(text, 'inteli_upstream_latency_seconds_bucket', { rule: '/api', le: '10' })).toBe(3);
    expect(sample(text, 'inteli_upstream_latency_seconds_bucket', { rule: '/api', le: '+Inf' })).toBe(4);
    expect(sample(text, 'inteli_upstream_latency_seconds_count', { rule: '/api' })).toBe(4);
    expect(sample(text, 'inteli_upstream_latency_seconds_sum', { rule: '/api' })).toBeCloseTo(30.204, 6);
  });

  it('reports targets per rule and state (zeros included) and backends by state from the snapshot', async () => {
    const { snapshot, metrics } = fixture();
    snapshot.value = {
      state: 'running',
      inFlight: 3,
      tunnels: 2,
      routes: [
        { rule: '/api', path: '/api', host: undefined, upstreams: [upstream('a#1', 'ready'), upstream('b#2', 'ejected')] },
        { rule: '/x', path: '/x', host: undefined, upstreams: [upstream('a#1', 'ready'), upstream('c#3', 'draining')] },
      ],
    };
    const text = (await metrics.exposition()).body;
    expect(sample(text, 'inteli_targets', { rule: '/api', state: 'ready' })).toBe(1);
    expect(sample(text, 'inteli_targets', { rule: '/api', state: 'ejected' })).toBe(1);
    expect(sample(text, 'inteli_targets', { rule: '/api', state: 'draining' })).toBe(0);
    expect(sample(text, 'inteli_targets', { rule: '/x', state: 'draining' })).toBe(1);
    expect(sample(text, 'inteli_backends', { state: 'ready' })).toBe(1);
    expect(sample(text, 'inteli_backends', { state: 'ejected' })).toBe(1);
    expect(sample(text, 'inteli_backends', { state: 'draining' })).toBe(1);
    expect(sample(text, 'inteli_in_flight_requests')).toBe(3);
    expect(sample(text, 'inteli_websocket_tunnels')).toBe(2);
    expect(sample(text, 'inteli_client_received_bytes_total')).toBe(100);
    expect(sample(text, 'inteli_client_sent_bytes_total')).toBe(2000);
  });

  it('reports the control plane counters', async () => {
    const { metrics } = fixture();
    const text = (await metrics.exposition()).body;
    expect(sample(text, 'inteli_control_sessions')).toBe(5);
    expect(sample(text, 'inteli_control_pending_handshakes')).toBe(1);
    expect(sample(text, 'inteli_control_auth_failures_total', { reason: 'expired' })).toBe(2);
    expect(sample(text, 'inteli_control_auth_failures_total', { reason: 'replay' })).toBe(1);
    expect(sample(text, 'inteli_control_upgrades_refused_total', { reason: 'revoked' })).toBe(1);
    expect(sample(text, 'inteli_control_limit_breaches_total', { limit: 'rate' })).toBe(1);
    expect(sample(text, 'inteli_control_evictions_total')).toBe(2);
    expect(sample(text, 'inteli_registrations_refused_total', { code: 'RP_ERR_OUT_OF_SCOPE' })).toBe(1);
  });

  it('counts registry additions and removals by reason, and refused admin requests', async () => {
    const { registry, metrics } = fixture();
    const input = { agentId: 'a', targets: [{ protocol: 'http' as const, host: '127.0.0.1', port: 1 }], rules: [{ path: '/a' }] };
    const one = registry.add(input);
    const two = registry.add(input);
    registry.add(input);
    registry.remove(one.id, 'timeout');
    registry.remove(two.id, 'revoked');
    metrics.adminAuthFailed('missing');
    const text = (await metrics.exposition()).body;
    expect(sample(text, 'inteli_registrations_total')).toBe(3);
    expect(sample(text, 'inteli_backend_removals_total', { reason: 'timeout' })).toBe(1);
    expect(sample(text, 'inteli_backend_removals_total', { reason: 'revoked' })).toBe(1);
    expect(sample(text, 'inteli_admin_auth_failures_total', { reason: 'missing' })).toBe(1);
  });

  it('gives every instance its own registry', async () => {
    const first = fixture();
    const second = fixture();
    first.stats.pair('/api', 'a').answered(200);
    expect(sample((await first.metrics.exposition()).body, 'inteli_requests_total', { rule: '/api', backend: 'a', status_class: '2xx' })).toBe(1);
    expect(sample((await second.metrics.exposition()).body, 'inteli_requests_total', { rule: '/api', backend: 'a', status_class: '2xx' })).toBeUndefined();
  });
});
