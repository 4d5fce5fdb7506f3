/**
 * The IPC protocol between the cluster primary and its workers, as plain serializable data, with type
 * guards: every message is validated on receipt, and a malformed one is logged and ignored, never trusted.
 *
 * Primary to worker: `config` (once, first), `settings` (a reload's new live options), `snapshot` (the
 * whole registry, reserved rules included), `added` / `updated` / `removed` / `reserved` (each registry
 * change, in order, with the registry version after it), `idle?` (drain: is this
 * backend idle here?), `report?` (send your counters now) and `stop`.
 * Worker to primary: `hello` (listeners attached: messages sent before it could be lost), `listening` or
 * `failed` (the data plane could not start: the coded error, so the primary's start fails with it), `resync` (a version gap was seen: send a snapshot), `idle` (answer to
 * `idle?`), `report` (data-plane counters and routes).
 */
import type { DataPlaneSnapshot } from '../data-plane/data-plane.js';
import type { Backend, RemovalReason, RouteRule, TargetAddress } from '../registry/backend.js';
import type { WorkerDataPlaneOptions, WorkerDataPlaneSettings } from './cluster-options.js';
import type { WorkerReport } from './worker-report.js';
import { isWorkerReport } from './worker-report.js';

/** Prefix of every message type, so that unrelated IPC traffic (`process.send` by embedders) is ignored. */
export const MESSAGE_PREFIX = 'inteli.';

/** What a worker needs to run its data plane. Sent over IPC, so the private key is never written anywhere. */
export interface WorkerConfig extends WorkerDataPlaneOptions {
  /** How often the worker sends its counters, in ms (0: only when asked). */
  readonly reportIntervalMs: number;
  /** pino level of the worker's logger. */
  readonly logLevel: string;
  /** Format of the worker's log lines, like the primary's (absent: `json`). */
  readonly logFormat?: 'json' | 'pretty';
}

/** Messages from the primary. */
export type PrimaryMessage =
  | { readonly type: 'inteli.config'; readonly config: WorkerConfig }
  | { readonly type: 'inteli.settings'; readonly dataPlane: WorkerDataPlaneSettings; readonly logLevel?: string | undefined }
  | { readonly type: 'inteli.snapshot'; readonly version: number; readonly backends: readonly Backend[]; readonly reserved?: readonly RouteRule[] | undefined }
  | { readonly type: 'inteli.reserved'; readonly version: number; readonly rules: readonly RouteRule[] }
  | { readonly type: 'inteli.added'; readonly version: number; readonly backend: Backend }
  | { readonly type: 'inteli.updated'; readonly version: number; readonly backend: Backend }
  | { readonly type: 'inteli.removed'; readonly version: number; readonly backendId: string; readonly reason: RemovalReason }
  | { readonly type: 'inteli.idle?'; readonly requestId: number; readonly backendId: string }
  | { readonly type: 'inteli.report?' }
  | { readonly type: 'inteli.stop' };

/** Messages from a worker. */
export type WorkerMessage =
  | { readonly type: 'inteli.hello' }
  | { readonly type: 'inteli.listening'; readonly http: number; readonly https: number | undefined }
  | { readonly type: 'inteli.failed'; readonly code: string; readonly message: string }
  | { readonly type: 'inteli.resync'; readonly version: number }
  | { readonly type: 'inteli.idle'; readonly requestId: number }
  | { readonly type: 'inteli.report'; readonly report: WorkerReport };

/** Re-exported so that consumers import the protocol from one place. */
export type { DataPlaneSnapshot, WorkerReport };

/** A lower-case HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
/** Largest body timeout a record may carry (Node's largest timer). */
const MAX_BODY_TIMEOUT_MS = 2_147_483_647;

const REMOVAL_REASONS: ReadonlySet<string> = new Set(['left', 'drained', 'timeout', 'revoked', 'superseded', 'error', 'stopped']);

type Fields = Readonly<Record<string, unknown>>;

/** True for a non-null, non-array object. */
export function isRecord(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown, max = 4096): value is string {
  return typeof value === 'string' && value.length <= max;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isPort(value: unknown, min = 1): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= 65535;
}

function isTarget(value: unknown): value is TargetAddress {
  return isRecord(value) && (value.protocol === 'http' || value.protocol === 'https') && isString(value.host, 253) && value.host !== '' && isPort(value.port);
}

function isRule(value: unknown): value is RouteRule {
  return isRecord(value) && isString(value.path) && value.path.startsWith('/') && (value.host === undefined || isString(value.host, 253));
}

/** A list of reserved rules (bounded: a trust store holds at most a few thousand keys of 64 rules). */
function isRuleList(value: unknown): value is readonly RouteRule[] {
  return Array.isArray(value) && value.length <= 65_536 && value.every(isRule);
}

function isStringRecord(value: unknown): value is Readonly<Record<string, string>> {
  return isRecord(value) && Object.values(value).every((item) => isString(item));
}

/** Validates a backend record as the primary's registry makes it. */
export function isBackend(value: unknown): value is Backend {
  return (
    isRecord(value) &&
    isString(value.id, 256) &&
    value.id !== '' &&
    isString(value.agentId, 64) &&
    (value.fingerprint === undefined || isString(value.fingerprint, 128)) &&
    Array.isArray(value.targets) &&
    value.targets.length > 0 &&
    value.targets.every(isTarget) &&
    Array.isArray(value.rules) &&
    value.rules.length > 0 &&
    value.rules.every(isRule) &&
    typeof value.weight === 'number' &&
    Number.isInteger(value.weight) &&
    value.weight >= 1 &&
    value.weight <= 1000 &&
    (value.state === 'ready' || value.state === 'draining' || value.state === 'unhealthy') &&
    (value.affinity === undefined || value.affinity === 'cookie' || value.affinity === 'hash') &&
    (value.affinityHeader === undefined || (isString(value.affinityHeader, 64) && HEADER_NAME.test(value.affinityHeader))) &&
    (value.bodyTimeoutMs === undefined || (isCount(value.bodyTimeoutMs) && value.bodyTimeoutMs <= MAX_BODY_TIMEOUT_MS)) &&
    isStringRecord(value.meta) &&
    typeof value.registeredAt === 'number' &&
    Number.isFinite(value.registeredAt)
  );
}

/** Plain option values only; the worker's resolver checks what they mean. */
function isSettings(value: unknown): value is WorkerDataPlaneSettings {
  const plain = (item: unknown): boolean => typeof item === 'number' || typeof item === 'boolean' || isString(item, 65536);
  const flags = (item: unknown): boolean => isRecord(item) && Object.keys(item).length <= 16 && Object.values(item).every((flag) => typeof flag === 'boolean');
  return isRecord(value) && Object.values(value).every((item) => plain(item) || flags(item) || (Array.isArray(item) && item.length <= 10_000 && item.every((entry) => isString(entry, 64))));
}

function isWorkerConfig(value: unknown): value is WorkerConfig {
  if (!isRecord(value)) return false;
  const tls = value.tls;
  return (
    isString(value.host, 253) &&
    isPort(value.port, 0) &&
    isPort(value.tlsPort, 0) &&
    (tls === undefined || (isRecord(tls) && isString(tls.cert, 65536) && isString(tls.key, 65536))) &&
    Array.isArray(value.trustedProxies) &&
    value.trustedProxies.every((item) => isString(item, 64)) &&
    isCount(value.shutdownTimeoutMs) &&
    isCount(value.bodyTimeoutMs) &&
    (value.affinity === 'none' || value.affinity === 'cookie' || value.affinity === 'hash') &&
    (value.affinityHeader === undefined || (isString(value.affinityHeader, 64) && HEADER_NAME.test(value.affinityHeader))) &&
    isString(value.affinitySecret, 1024) &&
    /^(?:[0-9a-f]{2}){16,}$/.test(value.affinitySecret) &&
    (value.proxyId === undefined || isString(value.proxyId, 64)) &&
    (value.maxTunnelsPerTarget === undefined || isCount(value.maxTunnelsPerTarget)) &&
    (value.settings === undefined || isSettings(value.settings)) &&
    isCount(value.reportIntervalMs) &&
    isString(value.logLevel, 16) &&
    (value.logFormat === undefined || value.logFormat === 'json' || value.logFormat === 'pretty')
  );
}

/** Validates a message from the primary. */
export function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  if (!isRecord(value)) return false;
  switch (value.type) {
    case 'inteli.config':
      return isWorkerConfig(value.config);
    case 'inteli.settings':
      return isSettings(value.dataPlane) && (value.logLevel === undefined || isString(value.logLevel, 16));
    case 'inteli.snapshot':
      return isCount(value.version) && Array.isArray(value.backends) && value.backends.every(isBackend) && (value.reserved === undefined || isRuleList(value.reserved));
    case 'inteli.reserved':
      return isCount(value.version) && isRuleList(value.rules);
    case 'inteli.added':
    case 'inteli.updated':
      return isCount(value.version) && isBackend(value.backend);
    case 'inteli.removed':
      return isCount(value.version) && isString(value.backendId, 256) && isString(value.reason) && REMOVAL_REASONS.has(value.reason);
    case 'inteli.idle?':
      return isCount(value.requestId) && isString(value.backendId, 256);
    case 'inteli.report?':
    case 'inteli.stop':
      return true;
    default:
      return false;
  }
}

/** Validates a message from a worker. */
export function isWorkerMessage(value: unknown): value is WorkerMessage {
  if (!isRecord(value)) return false;
  switch (value.type) {
    case 'inteli.hello':
      return true;
    case 'inteli.listening':
      return isPort(value.http) && (value.https === undefined || isPort(value.https));
    case 'inteli.failed':
      return isString(value.code, 64) && isString(value.message, 1024);
    case 'inteli.resync':
      return isCount(value.version);
    case 'inteli.idle':
      return isCount(value.requestId);
    case 'inteli.report':
      return isWorkerReport(value.report);
    default:
      return false;
  }
}

/** True when a message claims to belong to this protocol (so a malformed one is worth a log line). */
export function isOurs(value: unknown): boolean {
  return isRecord(value) && typeof value.type === 'string' && value.type.startsWith(MESSAGE_PREFIX);
}
