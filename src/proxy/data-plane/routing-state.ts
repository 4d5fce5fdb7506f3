/**
 * Derives the routing table from the registry (Traefik style: plain data in, runtime objects out, swapped
 * atomically). Upstreams are keyed by `backendId|origin` and survive rebuilds, and so does each rule's
 * selector, so counters, health and rotation carry over when an unrelated backend joins or leaves.
 * Upstreams that disappear are retired once their in-flight work is done, which releases their origin's
 * connection pool.
 */
import type { AffinityMode, Backend, RouteRule } from '../registry/backend.js';
import { targetOrigin } from '../registry/backend.js';
import { type AffinityConfig, AffinityTokens, RouteAffinity } from './route-affinity.js';
import { randomBytes } from 'node:crypto';
import type { Forwarder } from './forwarder.js';
import { LoadCounter } from './load-counter.js';
import { ruleKey } from '../../shared/routing/route-rule.js';
import type { Route } from './route.js';
import { RouteTable } from './route-table.js';
import type { ProxySelectorFactory } from './selectors/proxy-selector.js';
import { TrafficStats, pairKey } from './traffic-stats.js';
import { type EjectionPolicy, Upstream, type UpstreamSnapshot } from './upstream.js';

/** A route as status pages see it. */
export interface RouteSnapshot {
  /** `/api` or `example.com/api`. */
  readonly rule: string;
  readonly path: string;
  readonly host: string | undefined;
  readonly upstreams: readonly UpstreamSnapshot[];
}

/** The proxy-wide defaults a route falls back to when its backends ask for nothing. */
export interface RouteDefaults {
  /** Affinity of routes whose backends declare none. */
  readonly affinity: AffinityMode | 'none';
  /** With `hash`: the header hashed by default. */
  readonly affinityHeader: string | undefined;
  /** Key of the affinity cookies' HMAC. */
  readonly affinitySecret: Buffer;
}

/** What a rule collects from its backends during a rebuild. */
interface Member {
  readonly rule: RouteRule;
  readonly upstreams: Upstream[];
  affinity: AffinityConfig | undefined;
  bodyTimeoutMs: number | undefined;
}

/** Reserved routes have no upstream, so their policy never has anything to pick. */
const EMPTY_SELECTOR = Object.freeze({
  select: (): undefined => undefined,
  update: (): void => undefined,
});

/** A backend's registry record and the upstreams built for it. */
interface BackendEntry {
  readonly backend: Backend;
  readonly upstreams: readonly Upstream[];
}

/** The live routing state of a data plane. */
export class RoutingState {
  #table = new RouteTable([]);
  /** A deferred rebuild (see {@link defer}); run by the first read of {@link table}. */
  #deferred: (() => void) | undefined;
  /** Counter of everything in flight on the data plane. */
  readonly load = new LoadCounter('*');
  /** Traffic counters (plain integers, read by the admin metrics at scrape time). */
  readonly stats: TrafficStats;
  #selector: ProxySelectorFactory;
  readonly #ejection: EjectionPolicy;
  readonly #forwarder: Forwarder;
  #byBackend = new Map<string, BackendEntry>();
  #routes = new Map<string, Route>();
  readonly #loads = new Map<string, LoadCounter>();
  readonly #retire = (upstream: Upstream): void => this.#forwarder.release(upstream.origin);
  readonly #defaultAffinity: AffinityConfig | undefined;
  readonly #tokens: AffinityTokens;

  /**
   * @param stats where traffic is counted; default a new {@link TrafficStats}.
   * @param defaults proxy-wide route settings; default no affinity (and a random cookie secret).
   */
  constructor(
    selector: ProxySelectorFactory,
    ejection: EjectionPolicy,
    forwarder: Forwarder,
    stats: TrafficStats = new TrafficStats(),
    defaults: RouteDefaults = { affinity: 'none', affinityHeader: undefined, affinitySecret: randomBytes(32) },
  ) {
    this.stats = stats;
    this.#selector = selector;
    this.#ejection = ejection;
    this.#forwarder = forwarder;
    this.#defaultAffinity = defaults.affinity === 'none' ? undefined : { mode: defaults.affinity, header: defaults.affinityHeader };
    this.#tokens = new AffinityTokens(defaults.affinitySecret);
  }

  /**
   * The current table; replaced, never mutated. A rebuild that was deferred runs first, so every lookup
   * sees every registry change made before it, however late the scheduled rebuild comes.
   */
  get table(): RouteTable {
    const deferred = this.#deferred;
    if (deferred !== undefined) {
      this.#deferred = undefined;
      deferred();
    }
    return this.#table;
  }

  /**
   * Marks the table stale: `rebuild` (which must end in {@link rebuild}) runs at the next read of
   * {@link table}, unless the owner runs it first. The owner schedules it for later in the event-loop
   * turn, so a storm of registrations costs one rebuild per turn instead of one per registration
   * (each rebuild is O(backends): 2,000 one by one were O(n^2)), while a request never sees a stale table.
   */
  defer(rebuild: () => void): void {
    this.#deferred = rebuild;
  }

  /**
   * Rebuilds the table from the registry's backends and swaps it in. A backend whose registry record is
   * unchanged (the registry freezes records and replaces them on change) keeps its upstream list as is,
   * so a rebuild costs O(backends + rule memberships), not a pass over every target's address.
   * `reserved` rules match with no backend (answering NO_TARGET); unless `keepStats`, the traffic
   * counters of rule/agent pairs no backend serves any more are dropped.
   */
  rebuild(backends: readonly Backend[], reserved: readonly RouteRule[] = [], keepStats = false): void {
    const byBackend = new Map<string, BackendEntry>();
    const members = new Map<string, Member>();
    const livePairs = new Set<string>();
    const liveAgents = new Set<string>();
    for (const backend of backends) {
      const entry = this.#entryOf(backend);
      byBackend.set(backend.id, entry);
      liveAgents.add(backend.agentId);
      const ownRules = new Set<string>();
      for (const rule of backend.rules) {
        const key = ruleKey(rule);
        // A rule listed twice must not double the backend's share of the rotation.
        if (ownRules.has(key)) continue;
        ownRules.add(key);
        livePairs.add(pairKey(key, backend.agentId));
        let member = members.get(key);
        if (member === undefined) members.set(key, (member = { rule, upstreams: [], affinity: undefined, bodyTimeoutMs: undefined }));
        // The first backend of a rule (in registration order) that states a setting decides it.
        if (member.affinity === undefined && backend.affinity !== undefined) {
          member.affinity = { mode: backend.affinity, header: backend.affinityHeader };
        }
        member.bodyTimeoutMs ??= backend.bodyTimeoutMs;
        for (const upstream of entry.upstreams) {
          member.upstreams.push(upstream);
          if (!upstream.routeStats.has(key)) upstream.routeStats.set(key, this.stats.pair(key, backend.agentId));
        }
      }
    }
    for (const [id, entry] of this.#byBackend) {
      const next = byBackend.get(id);
      if (next?.upstreams === entry.upstreams) continue;
      const kept = new Set(next?.upstreams);
      for (const upstream of entry.upstreams) if (!kept.has(upstream)) upstream.remove();
      if (next === undefined && this.#loads.get(id)?.inFlight === 0) this.#loads.delete(id);
    }

    const routes = new Map<string, Route>();
    for (const [key, member] of members) {
      const previous = this.#routes.get(key);
      let selector;
      if (previous === undefined) {
        selector = this.#selector(member.upstreams);
      } else {
        selector = previous.selector;
        selector.update(member.upstreams);
      }
      const affinityConfig = member.affinity ?? this.#defaultAffinity;
      const affinity = affinityConfig === undefined ? undefined : new RouteAffinity(affinityConfig, key, member.rule.path, member.upstreams, this.#tokens);
      routes.set(key, Object.freeze({ key, rule: member.rule, upstreams: member.upstreams, selector, affinity, bodyTimeoutMs: member.bodyTimeoutMs, reserved: false }));
    }
    this.#tokens.sweep();
    // A rule some key may serve but no backend serves now still matches (answering NO_TARGET), so the
    // requests meant for it never fall through to a shorter rule such as a catch-all `/`.
    const table = [...routes.values()];
    for (const rule of reserved) {
      const key = ruleKey(rule);
      if (routes.has(key)) continue;
      table.push(Object.freeze({ key, rule, upstreams: [], selector: EMPTY_SELECTOR, affinity: undefined, bodyTimeoutMs: undefined, reserved: true }));
    }
    this.#byBackend = byBackend;
    this.#routes = routes;
    this.#deferred = undefined;
    this.#table = new RouteTable(table);
    if (!keepStats) this.stats.retain(livePairs, liveAgents);
  }

  /**
   * Replaces the selection policy: every route gets a new selector of the new kind over the same
   * upstreams and the table is swapped at once. Requests in flight keep the upstream they were given.
   */
  setSelector(selector: ProxySelectorFactory): void {
    if (selector === this.#selector) return;
    this.#selector = selector;
    // Read through the getter: a deferred rebuild runs first, so the swap starts from every change.
    const reserved = this.table.routes.filter((route) => route.reserved);
    const routes = new Map<string, Route>();
    for (const [key, route] of this.#routes) routes.set(key, Object.freeze({ ...route, selector: selector(route.upstreams) }));
    this.#routes = routes;
    // Reserved rules (no backend: NO_TARGET) keep their empty selector.
    this.#table = new RouteTable([...routes.values(), ...reserved]);
  }

  /** Resolves once the backend has no request or tunnel in flight (at once when unknown or idle). */
  whenIdle(backendId: string): Promise<void> {
    return this.#loads.get(backendId)?.whenIdle() ?? Promise.resolve();
  }

  /** Requests and tunnels in flight on one backend (0 when unknown). */
  inFlight(backendId: string): number {
    return this.#loads.get(backendId)?.inFlight ?? 0;
  }

  /** Every live upstream. */
  upstreams(): Upstream[] {
    return [...this.#byBackend.values()].flatMap((entry) => entry.upstreams);
  }

  /** A plain copy of the routes and their upstreams. */
  snapshot(): RouteSnapshot[] {
    return this.table.routes.filter((route) => !route.reserved).map((route) => ({
      rule: route.key,
      path: route.rule.path,
      host: route.rule.host,
      upstreams: route.upstreams.map((upstream) => upstream.snapshot()),
    }));
  }

  /**
   * Removes every upstream (stop); pools are released as their work ends. The counters stay, so
   * `/metrics` still shows them while the proxy drains.
   */
  clear(): void {
    this.rebuild([], [], true);
  }

  /** The upstreams of a backend: reused when its record is unchanged, updated when only its state changed. */
  #entryOf(backend: Backend): BackendEntry {
    const previous = this.#byBackend.get(backend.id);
    if (previous !== undefined && previous.backend === backend) return previous;
    if (previous !== undefined && previous.backend.targets === backend.targets) {
      for (const upstream of previous.upstreams) upstream.update(backend);
      return { backend, upstreams: previous.upstreams };
    }
    const known = new Map<string, Upstream>();
    for (const upstream of previous?.upstreams ?? []) known.set(upstream.origin, upstream);
    const load = this.#loadOf(backend.id);
    const upstreams: Upstream[] = [];
    const origins = new Set<string>();
    for (const target of backend.targets) {
      const origin = targetOrigin(target);
      if (origins.has(origin)) continue;
      origins.add(origin);
      let upstream = known.get(origin);
      if (upstream === undefined) {
        this.#forwarder.retain(origin, target);
        upstream = new Upstream(backend, target, origin, load, this.#ejection, this.#retire);
      } else {
        upstream.update(backend);
      }
      upstreams.push(upstream);
    }
    return { backend, upstreams };
  }

  #loadOf(backendId: string): LoadCounter {
    let load = this.#loads.get(backendId);
    if (load === undefined) this.#loads.set(backendId, (load = new LoadCounter(backendId, this.load)));
    return load;
  }
}
