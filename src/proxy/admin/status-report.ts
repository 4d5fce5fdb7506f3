/**
 * The JSON document of `GET /api/status`: the proxy's state, every rule with its targets (state, weight,
 * in-flight, last error, registered since, agent id, key fingerprint), recently removed backends, the
 * trusted keys (never key material) with their live session counts, the live control sessions, recent
 * control events, the request rates behind the status page's chart and the recent traffic health per rule
 * and per backend (error rates, p50/p99 latency, refusals; see `traffic-window.ts`). Built from plain snapshots; nothing here touches a socket.
 */
import type { AddressInfo } from 'node:net';
import type { TrustedKey } from '../../shared/trust/trusted-key.js';
import type { FleetSummary } from '../control-plane/fleet-handlers.js';
import type { SessionInfo } from '../control-plane/session.js';
import type { ProxyAddresses } from '../proxy-host.js';
import type { DataPlaneSnapshot } from '../data-plane/data-plane.js';
import type { BackendRegistry } from '../registry/backend-registry.js';
import type { AdminEvent } from './event-log.js';
import type { RateSample } from './rate-sampler.js';
import type { TrafficSummary } from './traffic-window.js';

/** What the status report reads. A narrow view of a `ProxyHost`. */
export interface StatusSource {
  readonly registry: BackendRegistry;
  /** True while every listener is up and the proxy is not stopping. */
  readonly ready: boolean;
  snapshot(): DataPlaneSnapshot;
  /** Bound listener addresses. */
  readonly addresses: ProxyAddresses;
  /** The trust store whose keys are listed; undefined lists none. */
  readonly trustStore: { list(): readonly TrustedKey[] } | undefined;
  /** The control plane whose live sessions are listed; undefined lists none. */
  readonly controlPlane: { sessions(): readonly SessionInfo[] } | undefined;
  /** The fleet (peers in Redis and the trust store's health); omitted lists none. */
  fleetSummary?(): FleetSummary;
}

/** One target as the status API shows it. */
export interface TargetStatus {
  readonly backendId: string;
  readonly agentId: string;
  readonly fingerprint: string | undefined;
  readonly origin: string;
  readonly state: 'ready' | 'draining' | 'unhealthy' | 'ejected';
  readonly weight: number;
  readonly inFlight: number;
  readonly consecutiveFailures: number;
  readonly ejectedUntil: string | undefined;
  readonly lastError: string | undefined;
  /** ISO 8601 time of {@link lastError}. */
  readonly lastErrorAt: string | undefined;
  /** ISO 8601 time of the registration. */
  readonly registeredAt: string | undefined;
  readonly meta: Readonly<Record<string, string>>;
}

/** One rule and its targets. */
export interface RuleStatus {
  readonly rule: string;
  readonly path: string;
  readonly host: string | undefined;
  /** Targets in state `ready`; 0 means requests for the rule get 403 NO_TARGET. */
  readonly readyTargets: number;
  readonly targets: readonly TargetStatus[];
}

/** The whole document. */
export interface StatusReport {
  readonly generatedAt: string;
  readonly proxy: {
    readonly ready: boolean;
    readonly state: string;
    readonly startedAt: string | undefined;
    readonly listeners: Readonly<Record<string, string>>;
    readonly inFlight: number;
    readonly tunnels: number;
    readonly authRequired: boolean;
  };
  readonly rules: readonly RuleStatus[];
  /** Backends that left recently (newest first), so a page can show them as gone. */
  readonly removed: readonly AdminEvent[];
  /** Trusted keys with their scope and live control sessions (never key material). */
  readonly keys: readonly { id: string; role: string; fingerprint: string; createdAt: string; scope: unknown; sessions: number }[] | undefined;
  readonly sessions: readonly SessionInfo[];
  /** The proxies sharing this trust (Redis), this one flagged `self`, and the trust store's health. */
  readonly fleet: FleetSummary | undefined;
  readonly events: readonly AdminEvent[];
  readonly rates: { readonly intervalMs: number; readonly samples: readonly RateSample[] };
  /** Recent traffic health per rule and per backend. */
  readonly traffic: TrafficSummary;
}

/** Extra inputs of {@link buildStatusReport}. */
export interface StatusExtras {
  readonly events: readonly AdminEvent[];
  readonly samples: readonly RateSample[];
  readonly intervalMs: number;
  readonly startedAt: number | undefined;
  readonly authRequired: boolean;
  /** How many removed backends to list. */
  readonly removedLimit: number;
  /** Recent traffic health. */
  readonly traffic: TrafficSummary;
}

function formatAddress(address: AddressInfo): string {
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

/** Builds the status document. */
export function buildStatusReport(source: StatusSource, extras: StatusExtras): StatusReport {
  const snapshot = source.snapshot();
  const rules: RuleStatus[] = snapshot.routes.map((route) => {
    const targets = route.upstreams.map((upstream): TargetStatus => {
      const backend = source.registry.get(upstream.backendId);
      return {
        backendId: upstream.backendId,
        agentId: upstream.agentId,
        fingerprint: backend?.fingerprint,
        origin: upstream.origin,
        state: upstream.state,
        weight: upstream.weight,
        inFlight: upstream.inFlight,
        consecutiveFailures: upstream.consecutiveFailures,
        ejectedUntil: upstream.ejectedUntil === undefined ? undefined : new Date(upstream.ejectedUntil).toISOString(),
        lastError: upstream.lastError,
        lastErrorAt: upstream.lastErrorAt === undefined ? undefined : new Date(upstream.lastErrorAt).toISOString(),
        registeredAt: backend === undefined ? undefined : new Date(backend.registeredAt).toISOString(),
        meta: backend?.meta ?? {},
      };
    });
    return {
      rule: route.rule,
      path: route.path,
      host: route.host,
      readyTargets: targets.filter((target) => target.state === 'ready').length,
      targets,
    };
  });
  const listeners: Record<string, string> = {};
  const addresses: Readonly<Record<string, AddressInfo | undefined>> = { ...source.addresses };
  for (const [name, address] of Object.entries(addresses)) {
    if (address !== undefined) listeners[name] = formatAddress(address);
  }
  const sessions = source.controlPlane?.sessions() ?? [];
  const sessionsByKey = new Map<string, number>();
  for (const session of sessions) sessionsByKey.set(session.agentId, (sessionsByKey.get(session.agentId) ?? 0) + 1);
  const keys = source.trustStore?.list().map((key) => ({
    id: key.id,
    role: key.role,
    fingerprint: key.fingerprint,
    createdAt: key.createdAt,
    scope: key.scope,
    sessions: sessionsByKey.get(key.id) ?? 0,
  }));
  return {
    generatedAt: new Date().toISOString(),
    proxy: {
      ready: source.ready,
      state: snapshot.state,
      startedAt: extras.startedAt === undefined ? undefined : new Date(extras.startedAt).toISOString(),
      listeners,
      inFlight: snapshot.inFlight,
      tunnels: snapshot.tunnels,
      authRequired: extras.authRequired,
    },
    rules,
    removed: extras.events.filter((event) => event.type === 'backend_removed').slice(0, extras.removedLimit),
    keys,
    sessions,
    fleet: source.fleetSummary?.(),
    events: extras.events,
    rates: { intervalMs: extras.intervalMs, samples: extras.samples },
    traffic: extras.traffic,
  };
}
