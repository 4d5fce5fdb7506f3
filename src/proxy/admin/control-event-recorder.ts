/**
 * Feeds the admin {@link EventLog} from the proxy's events while the admin listener runs: backends added,
 * removed (with the reason) and rejected, control sessions opened and closed, and control-plane
 * authentication failures. The control plane counts refused upgrades but emits no event for them (an
 * unauthenticated flood must not become an event flood), so the recorder logs the increase of those
 * counters once per sampling tick, summed per reason.
 */
import type { BackendRejection } from '../control-plane/control-context.js';
import type { ControlPlaneStats } from '../control-plane/control-plane-stats.js';
import type { SessionInfo } from '../control-plane/session.js';
import { ruleKey } from '../../shared/routing/route-rule.js';
import { targetOrigin, type Backend, type RemovalReason } from '../registry/backend.js';
import type { EventLog } from './event-log.js';

/** The backend events, as `ProxyServer` emits them. */
export interface BackendEventSource {
  on(event: 'backend_added', listener: (backend: Backend) => void): unknown;
  on(event: 'backend_removed', listener: (backend: Backend, reason: RemovalReason) => void): unknown;
  on(event: 'backend_rejected', listener: (rejection: BackendRejection) => void): unknown;
  off(event: 'backend_added', listener: (backend: Backend) => void): unknown;
  off(event: 'backend_removed', listener: (backend: Backend, reason: RemovalReason) => void): unknown;
  off(event: 'backend_rejected', listener: (rejection: BackendRejection) => void): unknown;
}

/** The control plane's session events. */
export interface SessionEventSource {
  on(event: 'session_opened', listener: (session: SessionInfo) => void): unknown;
  on(event: 'session_closed', listener: (session: SessionInfo, reason: RemovalReason) => void): unknown;
  off(event: 'session_opened', listener: (session: SessionInfo) => void): unknown;
  off(event: 'session_closed', listener: (session: SessionInfo, reason: RemovalReason) => void): unknown;
}

/** Upgrade refusals that are authentication failures without a token reason. */
const NON_TOKEN_REFUSALS = ['revoked', 'forbidden'] as const;

function describe(backend: Backend): { rules: string[]; origins: string[] } {
  return { rules: backend.rules.map((rule) => ruleKey(rule)), origins: backend.targets.map((target) => targetOrigin(target)) };
}

/** Records control events into an {@link EventLog}. */
export class ControlEventRecorder {
  readonly #log: EventLog;
  readonly #backends: BackendEventSource;
  readonly #sessions: SessionEventSource | undefined;
  readonly #stats: () => ControlPlaneStats | undefined;
  #authSeen = new Map<string, number>();

  readonly #onAdded = (backend: Backend): void => {
    this.#log.add({ type: 'backend_added', agentId: backend.agentId, backendId: backend.id, ...describe(backend) });
  };
  readonly #onRemoved = (backend: Backend, reason: RemovalReason): void => {
    this.#log.add({ type: 'backend_removed', agentId: backend.agentId, backendId: backend.id, reason, ...describe(backend) });
  };
  readonly #onRejected = (rejection: BackendRejection): void => {
    this.#log.add({ type: 'backend_rejected', agentId: rejection.agentId, reason: rejection.code, detail: rejection.reason });
  };
  readonly #onSessionOpened = (session: SessionInfo): void => {
    this.#log.add({ type: 'session_opened', agentId: session.agentId, detail: `${session.role} session ${session.id}` });
  };
  readonly #onSessionClosed = (session: SessionInfo, reason: RemovalReason): void => {
    this.#log.add({ type: 'session_closed', agentId: session.agentId, reason, detail: `${session.role} session ${session.id}` });
  };

  constructor(log: EventLog, backends: BackendEventSource, sessions: SessionEventSource | undefined, stats: () => ControlPlaneStats | undefined) {
    this.#log = log;
    this.#backends = backends;
    this.#sessions = sessions;
    this.#stats = stats;
  }

  /** Subscribes; failures counted before this call are not reported. */
  start(): void {
    this.#backends.on('backend_added', this.#onAdded);
    this.#backends.on('backend_removed', this.#onRemoved);
    this.#backends.on('backend_rejected', this.#onRejected);
    this.#sessions?.on('session_opened', this.#onSessionOpened);
    this.#sessions?.on('session_closed', this.#onSessionClosed);
    this.#authSeen = this.#authTotals();
  }

  /** Unsubscribes. */
  stop(): void {
    this.#backends.off('backend_added', this.#onAdded);
    this.#backends.off('backend_removed', this.#onRemoved);
    this.#backends.off('backend_rejected', this.#onRejected);
    this.#sessions?.off('session_opened', this.#onSessionOpened);
    this.#sessions?.off('session_closed', this.#onSessionClosed);
  }

  /** Logs the control-plane authentication failures counted since the previous tick, one entry per reason. */
  tick(): void {
    const totals = this.#authTotals();
    for (const [reason, total] of totals) {
      const delta = total - (this.#authSeen.get(reason) ?? 0);
      if (delta > 0) this.#log.add({ type: 'auth_failure', reason, count: delta, detail: `control-plane upgrade refused (${reason})` });
    }
    this.#authSeen = totals;
  }

  #authTotals(): Map<string, number> {
    const stats = this.#stats();
    const totals = new Map<string, number>();
    if (stats === undefined) return totals;
    for (const [reason, count] of Object.entries(stats.unauthorized)) totals.set(reason, count);
    for (const reason of NON_TOKEN_REFUSALS) {
      const count = stats.upgradesRefused[reason];
      if (count !== undefined) totals.set(reason, count);
    }
    return totals;
  }
}
