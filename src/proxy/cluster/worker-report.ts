/**
 * A worker's data-plane counters and routes as plain data, sent to the primary (every
 * `reportIntervalMs`, and when asked) so that the primary's `/metrics` and `/api/status` cover every
 * worker. Counters are cumulative per worker; the primary sums the latest report of each.
 */
import type { DataPlane, DataPlaneSnapshot } from '../data-plane/data-plane.js';
import type { RouteSnapshot } from '../data-plane/routing-state.js';
import { LATENCY_BUCKETS_SECONDS, STATUS_CLASSES } from '../data-plane/traffic-stats.js';
import type { UpstreamSnapshot } from '../data-plane/upstream.js';

/** Counters of one (rule, agent id) pair, as {@link RouteTargetStats} holds them. */
export interface PairReport {
  readonly rule: string;
  readonly agentId: string;
  readonly responses: readonly number[];
  readonly latencyBuckets: readonly number[];
  readonly latencySumSeconds: number;
  readonly retries: number;
}

/** One worker's counters and routes. */
export interface WorkerReport {
  /**
   * True when the routes are the same as in this worker's previous report: `snapshot.routes` is then
   * empty and the primary keeps the previous ones. With 10,000 targets the routes are about 2 MB of
   * JSON, so they are sent only when the table or an upstream's health or load changed.
   */
  readonly routesUnchanged: boolean;
  /** Process id of the worker. */
  readonly pid: number;
  readonly noRoute: number;
  readonly noTarget: number;
  /** 508 answers (loops); absent from workers of older versions. */
  readonly loops?: number | undefined;
  /** 503 answers for the tunnels-per-target limit; absent from workers of older versions. */
  readonly tunnelLimit?: number | undefined;
  /** {@link noTarget} by route key (optional: reports of older workers lack it). */
  readonly noTargetByRule?: readonly (readonly [rule: string, count: number])[];
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly ejections: readonly (readonly [agentId: string, count: number])[];
  readonly pairs: readonly PairReport[];
  readonly snapshot: DataPlaneSnapshot;
}

/**
 * A digest of what a routes snapshot shows beyond the registry: the registry version (the table) and the
 * upstreams whose load or health is not the idle default. Equal digests mean equal routes.
 */
function routesDigest(snapshot: DataPlaneSnapshot, registryVersion: number): string {
  let digest = String(registryVersion);
  for (const route of snapshot.routes) {
    for (const upstream of route.upstreams) {
      if (upstream.inFlight === 0 && upstream.state === 'ready' && upstream.consecutiveFailures === 0 && upstream.lastError === undefined) continue;
      digest += `|${upstream.key},${upstream.inFlight},${upstream.state},${upstream.consecutiveFailures},${upstream.ejectedUntil ?? ''},${upstream.lastError ?? ''}`;
    }
  }
  return digest;
}

/**
 * Reads a data plane's counters into a report (at report time, never per request). Pass the digest the
 * previous call returned: the routes are left out when they did not change.
 */
export function collectReport(dataPlane: DataPlane, pid: number, registryVersion: number, previousDigest?: string): { report: WorkerReport; digest: string } {
  const stats = dataPlane.stats;
  const bytes = dataPlane.clientBytes();
  const pairs: PairReport[] = [];
  for (const pair of stats.pairs()) {
    pairs.push({
      rule: pair.rule,
      agentId: pair.agentId,
      responses: [...pair.responses],
      latencyBuckets: [...pair.latencyBuckets],
      latencySumSeconds: pair.latencySumSeconds,
      retries: pair.retries,
    });
  }
  const snapshot = dataPlane.snapshot();
  const digest = routesDigest(snapshot, registryVersion);
  const routesUnchanged = digest === previousDigest;
  const report: WorkerReport = {
    pid,
    routesUnchanged,
    noRoute: stats.noRoute,
    noTarget: stats.noTarget,
    loops: stats.loops,
    tunnelLimit: stats.tunnelLimit,
    noTargetByRule: [...stats.noTargetByRule],
    bytesIn: bytes.bytesIn,
    bytesOut: bytes.bytesOut,
    ejections: [...stats.ejections],
    pairs,
    snapshot: routesUnchanged ? { ...snapshot, routes: [] } : snapshot,
  };
  return { report, digest };
}

/** Requests this worker answered (every status class, aborted included). */
export function reportedRequests(report: WorkerReport): number {
  let total = 0;
  for (const pair of report.pairs) for (const count of pair.responses) total += count;
  return total + report.noRoute + report.noTarget;
}

type Fields = Readonly<Record<string, unknown>>;

function isRecord(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isCounts(value: unknown, length: number): value is readonly number[] {
  return Array.isArray(value) && value.length === length && value.every(isCount);
}

function isLabel(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 512;
}

function isPair(value: unknown): value is PairReport {
  return (
    isRecord(value) &&
    isLabel(value.rule) &&
    isLabel(value.agentId) &&
    isCounts(value.responses, STATUS_CLASSES.length) &&
    isCounts(value.latencyBuckets, LATENCY_BUCKETS_SECONDS.length + 1) &&
    typeof value.latencySumSeconds === 'number' &&
    Number.isFinite(value.latencySumSeconds) &&
    value.latencySumSeconds >= 0 &&
    isCount(value.retries)
  );
}

function isUpstream(value: unknown): value is UpstreamSnapshot {
  return (
    isRecord(value) &&
    isLabel(value.key) &&
    isLabel(value.backendId) &&
    isLabel(value.agentId) &&
    isLabel(value.origin) &&
    isCount(value.weight) &&
    (value.state === 'ready' || value.state === 'draining' || value.state === 'unhealthy' || value.state === 'ejected') &&
    isCount(value.inFlight) &&
    isCount(value.consecutiveFailures) &&
    (value.ejectedUntil === undefined || typeof value.ejectedUntil === 'number') &&
    (value.lastError === undefined || isLabel(value.lastError)) &&
    (value.lastErrorAt === undefined || typeof value.lastErrorAt === 'number')
  );
}

function isRoute(value: unknown): value is RouteSnapshot {
  return (
    isRecord(value) &&
    isLabel(value.rule) &&
    isLabel(value.path) &&
    (value.host === undefined || isLabel(value.host)) &&
    Array.isArray(value.upstreams) &&
    value.upstreams.every(isUpstream)
  );
}

const DATA_PLANE_STATES: ReadonlySet<unknown> = new Set(['idle', 'starting', 'running', 'stopping', 'stopped']);

function isSnapshot(value: unknown): value is DataPlaneSnapshot {
  return (
    isRecord(value) &&
    DATA_PLANE_STATES.has(value.state) &&
    isCount(value.inFlight) &&
    isCount(value.tunnels) &&
    Array.isArray(value.routes) &&
    value.routes.every(isRoute)
  );
}

/** Validates a report received over IPC. */
export function isWorkerReport(value: unknown): value is WorkerReport {
  return (
    isRecord(value) &&
    isCount(value.pid) &&
    typeof value.routesUnchanged === 'boolean' &&
    isCount(value.noRoute) &&
    isCount(value.noTarget) &&
    (value.loops === undefined || isCount(value.loops)) &&
    (value.tunnelLimit === undefined || isCount(value.tunnelLimit)) &&
    isCount(value.bytesIn) &&
    isCount(value.bytesOut) &&
    Array.isArray(value.ejections) &&
    value.ejections.every((entry) => Array.isArray(entry) && entry.length === 2 && isLabel(entry[0]) && isCount(entry[1])) &&
    (value.noTargetByRule === undefined ||
      (Array.isArray(value.noTargetByRule) && value.noTargetByRule.every((entry) => Array.isArray(entry) && entry.length === 2 && isLabel(entry[0]) && isCount(entry[1])))) &&
    Array.isArray(value.pairs) &&
    value.pairs.every(isPair) &&
    isSnapshot(value.snapshot)
  );
}
