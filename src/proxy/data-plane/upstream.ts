/**
 * The runtime state of one (backend, target origin) pair: what selectors choose between and what the
 * forwarder reports results to. Upstreams survive route rebuilds (they are keyed), so counters, health
 * and selection history carry over when an unrelated backend joins or leaves.
 */
import type { Backend, TargetAddress } from '../registry/backend.js';
import type { LoadCounter } from './load-counter.js';
import { hashString, mix32 } from './rendezvous-hash.js';
import type { RouteTargetStats } from './traffic-stats.js';

/** Passive-health settings every upstream applies. */
export interface EjectionPolicy {
  /** Consecutive connect failures that eject an upstream; 0 disables ejection. */
  readonly failures: number;
  /** How long an ejected upstream is skipped, in milliseconds. */
  readonly durationMs: number;
  /** Called when an upstream is ejected (for the ejection metric). Must not throw. */
  readonly onEjected?: ((upstream: Upstream) => void) | undefined;
}

/** Read-only view of an upstream for status pages and tests. */
export interface UpstreamSnapshot {
  /** `backendId|origin`. */
  readonly key: string;
  /** Registry id of the backend. */
  readonly backendId: string;
  /** The agent (key) that registered the backend. */
  readonly agentId: string;
  /** `protocol://host:port`. */
  readonly origin: string;
  /** Weight for the weighted policy. */
  readonly weight: number;
  /** `draining` (backend draining), `unhealthy` (the agent's health check failed), `ejected` (passive health) or `ready`. */
  readonly state: 'ready' | 'draining' | 'unhealthy' | 'ejected';
  /** Requests and tunnels in flight. */
  readonly inFlight: number;
  /** Connect failures in a row. */
  readonly consecutiveFailures: number;
  /** Epoch ms when an ejected upstream is re-admitted. */
  readonly ejectedUntil: number | undefined;
  /** The last forwarding error, for status pages. */
  readonly lastError: string | undefined;
  /** Epoch ms of {@link lastError} (optional: cluster reports from older workers lack it). */
  readonly lastErrorAt?: number | undefined;
}

/** One target of one backend. */
export class Upstream {
  /** `backendId|origin`; stable across rebuilds. */
  readonly key: string;
  /** `protocol://host:port`; the forwarder shares one connection pool per origin. */
  readonly origin: string;
  readonly target: TargetAddress;
  readonly load: LoadCounter;
  /**
   * Hash of `agentId|origin` for `hash` affinity: stable when the agent registers again (a reconnect), so
   * its clients keep landing on it.
   */
  readonly identityHash: number;
  backend: Backend;
  /** Relative weight for the weighted policy (the backend's weight). */
  weight: number;
  /** False while draining, ejected or removed; selectors skip unavailable upstreams. */
  available = true;
  /** Requests and tunnels in flight on this upstream. */
  inFlight = 0;
  consecutiveFailures = 0;
  ejectedUntil: number | undefined;
  lastError: string | undefined;
  lastErrorAt: number | undefined;
  draining = false;
  /**
   * The upstream once sent an interim 100 nobody asked for, which undici's client refuses: its requests
   * with a body take the Node-client path from then on (see `node-http-forwarder.ts`).
   */
  interimResponses = false;
  /** The agent reported its target unhealthy (active health check). */
  unhealthy = false;
  removed = false;
  /**
   * Traffic counters per route key this upstream serves, filled when the routing table is rebuilt, so
   * the forwarder finds its counters with one map lookup instead of building a label key per request.
   */
  readonly routeStats = new Map<string, RouteTargetStats>();
  readonly #ejection: EjectionPolicy;
  readonly #retired: (upstream: Upstream) => void;
  #ejectionTimer: NodeJS.Timeout | undefined;

  /**
   * @param load the backend's counter.
   * @param retired called once when the upstream is removed and has nothing in flight any more.
   */
  constructor(
    backend: Backend,
    target: TargetAddress,
    origin: string,
    load: LoadCounter,
    ejection: EjectionPolicy,
    retired: (upstream: Upstream) => void,
  ) {
    this.key = `${backend.id}|${origin}`;
    this.origin = origin;
    this.target = target;
    this.load = load;
    this.identityHash = mix32(hashString(`${backend.agentId}|${origin}`));
    this.backend = backend;
    this.weight = backend.weight;
    this.#ejection = ejection;
    this.#retired = retired;
    this.update(backend);
  }

  /** Applies a newer registry record of the same backend (state or weight changed). */
  update(backend: Backend): void {
    this.backend = backend;
    this.weight = backend.weight;
    this.draining = backend.state === 'draining';
    this.unhealthy = backend.state === 'unhealthy';
    this.#refresh();
  }

  /** Counts a request or tunnel that starts on this upstream. */
  acquire(): void {
    this.inFlight += 1;
    this.load.increment();
  }

  /** Counts a request or tunnel that ended. */
  release(): void {
    this.inFlight -= 1;
    this.load.decrement();
    if (this.removed && this.inFlight === 0) this.#retired(this);
  }

  /** A response started: the upstream is reachable again. */
  succeeded(): void {
    if (this.consecutiveFailures !== 0) this.consecutiveFailures = 0;
  }

  /** A connect attempt failed; ejects the upstream after too many in a row. */
  connectFailed(reason: string): void {
    this.lastError = reason;
    this.lastErrorAt = Date.now();
    this.consecutiveFailures += 1;
    const { failures, durationMs } = this.#ejection;
    if (failures === 0 || this.consecutiveFailures < failures || this.#ejectionTimer !== undefined || this.removed) return;
    this.ejectedUntil = Date.now() + durationMs;
    this.#ejectionTimer = setTimeout(() => this.#readmit(), durationMs);
    this.#ejectionTimer.unref();
    this.#refresh();
    this.#ejection.onEjected?.(this);
  }

  /** Records an error that is not a connect failure (for status pages). */
  failed(reason: string): void {
    this.lastError = reason;
    this.lastErrorAt = Date.now();
  }

  /** Marks the upstream as gone from the registry and clears its timer; retires it once idle. */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    if (this.#ejectionTimer !== undefined) clearTimeout(this.#ejectionTimer);
    this.#ejectionTimer = undefined;
    this.#refresh();
    if (this.inFlight === 0) this.#retired(this);
  }

  /** A plain copy of the state. */
  snapshot(): UpstreamSnapshot {
    return {
      key: this.key,
      backendId: this.backend.id,
      agentId: this.backend.agentId,
      origin: this.origin,
      weight: this.weight,
      state: this.draining ? 'draining' : this.unhealthy ? 'unhealthy' : this.#ejectionTimer === undefined ? 'ready' : 'ejected',
      inFlight: this.inFlight,
      consecutiveFailures: this.consecutiveFailures,
      ejectedUntil: this.ejectedUntil,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
    };
  }

  #readmit(): void {
    this.#ejectionTimer = undefined;
    this.ejectedUntil = undefined;
    // One more failure after re-admission ejects again at once (a half-open probe, as in Envoy).
    this.consecutiveFailures = Math.max(0, this.#ejection.failures - 1);
    this.#refresh();
  }

  #refresh(): void {
    this.available = !this.draining && !this.unhealthy && !this.removed && this.#ejectionTimer === undefined;
  }
}
