/**
 * The proxy's Prometheus metrics (prefix `inteli_`), on a registry of its own, so several proxies in one
 * process (tests, embedders) never collide in prom-client's global registry.
 *
 * Almost everything is collected at scrape time from state the proxy keeps anyway: the data plane's
 * snapshot (targets by state, in-flight, tunnels), its plain traffic counters (requests, latency,
 * retries, ejections, refusals, bytes) and the control plane's counters. The request path therefore pays
 * nothing for prom-client. Only rare events (a backend joins or leaves, an admin request fails auth) are
 * counted with `inc()`.
 *
 * Label values come from registered rules, trusted agent ids and fixed reason lists; never from a raw
 * path or a client address. The exposition ends with prom-client's default process and Node metrics
 * (`process-metrics.ts`).
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { ControlPlaneStats } from '../control-plane/control-plane-stats.js';
import type { ListenerProtocolStats } from '../data-plane/h2-listener.js';
import { STATUS_CLASSES, type TrafficStats } from '../data-plane/traffic-stats.js';
import type { Forwarding } from '../forwarding.js';
import type { BackendRegistry } from '../registry/backend-registry.js';
import type { Backend, RemovalReason } from '../registry/backend.js';
import { LatencyHistogram } from './latency-histogram.js';
import { processMetricsRegistry } from './process-metrics.js';
import type { ProxyDiscoveryStats } from '../../shared/discovery/proxy-discovery.js';
import type { DiscoveryCountersSnapshot } from '../../shared/discovery/refusal-counters.js';

/** Prefix of every metric name. */
export const METRIC_PREFIX = 'inteli_';

/** Target states, always reported (with zeros) so that "no ready target" is a plain comparison. */
const TARGET_STATES = ['ready', 'draining', 'unhealthy', 'ejected'] as const;

/**
 * What the metrics read, at scrape time: a narrow view of a `ProxyHost` (its forwarding part and its
 * control plane).
 */
export interface MetricsSource {
  /** The data plane (or the cluster's workers): routes, upstreams, traffic counters, client bytes and, for a data plane, requests by protocol. */
  readonly forwarding: Pick<Forwarding, 'snapshot' | 'stats' | 'clientBytes'> & { readonly protocolStats?: ListenerProtocolStats | undefined };
  /** The control plane, or undefined when it is disabled. */
  readonly controlPlane: { stats(): ControlPlaneStats & { sessions: number; pendingHandshakes: number } } | undefined;
  /** The trust store, whose health is exported; undefined without one. */
  readonly trustStore?: { health(): { readonly ok: boolean } } | undefined;
  /** The ACME certificates and their days left, when ACME is enabled. */
  readonly certificates?: { certificates(): readonly { readonly name: string; readonly daysLeft: number }[] } | undefined;
  /** LAN discovery, or undefined (or absent) when it is off. */
  readonly discovery?: { stats(): ProxyDiscoveryStats; peers(): readonly unknown[] } | undefined;
}

/** Why an admin request was refused (a metric label). */
export type AdminAuthFailure = 'missing' | 'invalid' | 'forbidden' | 'no_trust_store' | 'host';

type GaugeCollect<T extends string> = (this: Gauge<T>) => void;
type CounterCollect<T extends string> = (this: Counter<T>) => void;

/** Replaces a counter's values with the totals of a `{ labelValue: count }` record. */
function setAll<T extends string>(metric: Counter<T>, label: T, record: Readonly<Record<string, number>> | undefined): void {
  metric.reset();
  if (record === undefined) return;
  for (const [value, count] of Object.entries(record)) {
    const labels = { [label]: value } as Partial<Record<T, string>>;
    metric.inc(labels, count);
  }
}

/** The metrics of one `ProxyServer`. */
export class ProxyMetrics {
  /** The prom-client registry (serve `await registry.metrics()` with `registry.contentType`). */
  readonly registry = new Registry();
  readonly #adminAuthFailures: Counter<'reason'>;

  /** @param source read at scrape time. @param backends counted on `added`/`removed`. */
  constructor(host: MetricsSource, backends: BackendRegistry) {
    const source = {
      snapshot: () => host.forwarding.snapshot(),
      get trafficStats(): TrafficStats {
        return host.forwarding.stats;
      },
      clientBytes: () => host.forwarding.clientBytes(),
      controlStats: () => host.controlPlane?.stats(),
      protocolStats: () => host.forwarding.protocolStats,
      certificates: () => host.certificates?.certificates(),
    };
    const registry = this.registry;
    const registers = [registry];
    const gauge = <T extends string>(name: string, help: string, labelNames: readonly T[], collect: GaugeCollect<T>): Gauge<T> =>
      new Gauge<T>({ name: METRIC_PREFIX + name, help, labelNames, registers, collect });
    const counter = <T extends string>(name: string, help: string, labelNames: readonly T[], collect?: CounterCollect<T>): Counter<T> =>
      new Counter<T>({ name: METRIC_PREFIX + name, help, labelNames, registers, ...(collect === undefined ? {} : { collect }) });

    gauge('targets', 'Targets per rule by state (ready, draining, unhealthy, ejected).', ['rule', 'state'], function () {
      this.reset();
      for (const route of source.snapshot().routes) {
        const counts = { ready: 0, draining: 0, unhealthy: 0, ejected: 0 };
        for (const upstream of route.upstreams) counts[upstream.state] += 1;
        for (const state of TARGET_STATES) this.set({ rule: route.rule, state }, counts[state]);
      }
    });
    gauge('backends', 'Registered backends by state (draining, unhealthy, ejected when every target is ejected, else ready).', ['state'], function () {
      const states = new Map<string, 'ready' | 'draining' | 'unhealthy' | 'ejected'>();
      for (const route of source.snapshot().routes) {
        for (const upstream of route.upstreams) {
          const known = states.get(upstream.backendId);
          if (upstream.state === 'draining' || upstream.state === 'unhealthy') states.set(upstream.backendId, upstream.state);
          else if (upstream.state === 'ready' && known !== 'draining' && known !== 'unhealthy') states.set(upstream.backendId, 'ready');
          else if (known === undefined) states.set(upstream.backendId, upstream.state);
        }
      }
      const counts = { ready: 0, draining: 0, unhealthy: 0, ejected: 0 };
      for (const state of states.values()) counts[state] += 1;
      this.reset();
      for (const state of TARGET_STATES) this.set({ state }, counts[state]);
    });
    gauge('in_flight_requests', 'Requests and tunnels in flight on the data plane.', [], function () {
      this.set(source.snapshot().inFlight);
    });
    gauge('websocket_tunnels', 'Open WebSocket (upgrade) tunnels.', [], function () {
      this.set(source.snapshot().tunnels);
    });
    counter('requests_total', 'Proxied requests by rule, backend (agent id) and status class (aborted: the client left first).', ['rule', 'backend', 'status_class'], function () {
      this.reset();
      for (const pair of source.trafficStats.pairs()) {
        for (let index = 0; index < STATUS_CLASSES.length; index += 1) {
          this.inc({ rule: pair.rule, backend: pair.agentId, status_class: STATUS_CLASSES[index] as string }, pair.responses[index] as number);
        }
      }
    });
    counter('retries_total', 'Requests retried on another target after a connect failure, by rule and failed backend.', ['rule', 'backend'], function () {
      this.reset();
      for (const pair of source.trafficStats.pairs()) this.inc({ rule: pair.rule, backend: pair.agentId }, pair.retries);
    });
    new LatencyHistogram(
      `${METRIC_PREFIX}upstream_latency_seconds`,
      'Time from dispatching a request to a target until its response headers arrived, by rule.',
      registry,
      () => source.trafficStats.pairs(),
    );
    counter('refused_requests_total', 'Requests the proxy answered itself: no rule matched or no target was available (403 by default), a forwarding loop (508), too many tunnels to the target (503).', ['reason'], function () {
      this.reset();
      this.inc({ reason: 'NO_ROUTE' }, source.trafficStats.noRoute);
      this.inc({ reason: 'NO_TARGET' }, source.trafficStats.noTarget);
      this.inc({ reason: 'LOOP_DETECTED' }, source.trafficStats.loops);
      this.inc({ reason: 'TUNNEL_LIMIT' }, source.trafficStats.tunnelLimit);
    });
    counter('ejections_total', 'Targets ejected by passive health (repeated connect failures), by backend.', ['backend'], function () {
      this.reset();
      for (const [backend, count] of source.trafficStats.ejections) this.inc({ backend }, count);
    });
    counter('client_received_bytes_total', 'Bytes read from client connections (TCP payload, headers included).', [], function () {
      this.reset();
      this.inc(source.clientBytes().bytesIn);
    });
    counter('client_sent_bytes_total', 'Bytes written to client connections (TCP payload, headers included).', [], function () {
      this.reset();
      this.inc(source.clientBytes().bytesOut);
    });

    const registered = counter('registrations_total', 'Backends that joined the registry (control plane or registry API).', []);
    registered.inc(0);
    const removed = counter<'reason'>('backend_removals_total', 'Backends that left the registry, by reason.', ['reason']);
    backends.on('added', (_backend: Backend) => registered.inc());
    backends.on('removed', (_backend: Backend, reason: RemovalReason) => removed.inc({ reason }));

    gauge('control_sessions', 'Authenticated control-plane sessions (agents and admins).', [], function () {
      this.set(source.controlStats()?.sessions ?? 0);
    });
    gauge('control_pending_handshakes', 'Control-plane upgrades being authenticated.', [], function () {
      this.set(source.controlStats()?.pendingHandshakes ?? 0);
    });
    counter('registrations_refused_total', 'Registrations the control plane refused, by error code.', ['code'], function () {
      setAll(this, 'code', source.controlStats()?.registrationsRefused);
    });
    counter('control_auth_failures_total', 'Control-plane tokens refused, by reason (expired, replay, signature, unknown_key, ...).', ['reason'], function () {
      setAll(this, 'reason', source.controlStats()?.unauthorized);
    });
    counter('control_upgrades_refused_total', 'Control-plane upgrades refused before a session existed, by reason.', ['reason'], function () {
      setAll(this, 'reason', source.controlStats()?.upgradesRefused);
    });
    counter('control_limit_breaches_total', 'Control sessions closed for breaking a limit, by limit.', ['limit'], function () {
      setAll(this, 'limit', source.controlStats()?.limitBreaches);
    });
    counter('control_evictions_total', 'Control sessions evicted by the heartbeat (missed pongs).', [], function () {
      this.reset();
      this.inc(source.controlStats()?.evictions ?? 0);
    });
    counter('client_requests_total', 'Requests received from clients, by protocol (http/1.1, h2).', ['protocol'], function () {
      const stats = source.protocolStats?.();
      this.reset();
      this.inc({ protocol: 'http/1.1' }, stats?.requests['http/1.1'] ?? 0);
      this.inc({ protocol: 'h2' }, stats?.requests.h2 ?? 0);
    });
    gauge('h2_sessions', 'Open HTTP/2 client sessions.', [], function () {
      this.set(source.protocolStats?.()?.h2Sessions ?? 0);
    });
    counter('h2_limit_breaches_total', 'HTTP/2 sessions closed (rapid_reset) or streams reset (request_timeout) for breaking a limit, by reason.', ['reason'], function () {
      setAll(this, 'reason', source.protocolStats?.()?.h2Abuse);
    });
    gauge('acme_certificate_days_left', 'Whole days until each ACME certificate expires (renewed at 2/3 of its lifetime by default).', ['name'], function () {
      this.reset();
      for (const certificate of source.certificates?.() ?? []) this.set({ name: certificate.name }, certificate.daysLeft);
    });
    if (host.discovery !== undefined) this.#discoveryMetrics(host.discovery, counter, gauge);
    this.#adminAuthFailures = counter<'reason'>('admin_auth_failures_total', 'Admin listener requests refused, by reason.', ['reason']);
  }

  /** LAN discovery (docs/discovery.md): datagrams by socket and outcome, every refusal by reason, peers. */
  #discoveryMetrics(
    discovery: NonNullable<MetricsSource['discovery']>,
    counter: <T extends string>(name: string, help: string, labelNames: T[], collect?: CounterCollect<T>) => Counter<T>,
    gauge: <T extends string>(name: string, help: string, labelNames: T[], collect: GaugeCollect<T>) => Gauge<T>,
  ): void {
    const sockets = (): [string, DiscoveryCountersSnapshot | undefined][] => {
      const stats = discovery.stats();
      return [
        ['peers', stats.peers],
        ['probes', stats.probes],
      ];
    };
    counter('discovery_beacons_sent_total', 'Sealed discovery beacons sent (failed sends are counted apart).', ['outcome'], function () {
      const { sent, failed } = discovery.stats().beacons;
      this.reset();
      this.inc({ outcome: 'sent' }, sent);
      this.inc({ outcome: 'failed' }, failed);
    });
    counter('discovery_datagrams_accepted_total', 'Discovery datagrams accepted, by socket (peers: beacons of peer proxies; probes: challenges answered).', ['socket'], function () {
      this.reset();
      for (const [socket, snapshot] of sockets()) if (snapshot !== undefined) this.inc({ socket }, snapshot.accepted);
    });
    counter('discovery_datagrams_refused_total', 'Discovery datagrams refused, by socket and reason (unknown_key, forged, replayed, expired, rate_limited, ...).', ['socket', 'reason'], function () {
      this.reset();
      for (const [socket, snapshot] of sockets()) {
        if (snapshot === undefined) continue;
        for (const [reason, count] of Object.entries(snapshot.refused)) this.inc({ socket, reason }, count);
      }
    });
    gauge('discovery_peers', 'Peer proxies whose authenticated beacons currently arrive.', [], function () {
      this.set(discovery.peers().length);
    });
  }

  /** Counts a refused admin request. */
  adminAuthFailed(reason: AdminAuthFailure): void {
    this.#adminAuthFailures.inc({ reason });
  }

  /** The exposition text and its content type: the proxy's metrics, then the process and Node metrics. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    const own = await this.registry.metrics();
    const process = await processMetricsRegistry().metrics();
    return { contentType: this.registry.contentType, body: `${own}${own.endsWith('\n') ? '' : '\n'}${process}` };
  }
}
