/**
 * Derives the routing table from the registry (Traefik style: plain data in, runtime objects out, swapped
 * atomically). Upstreams are keyed by `backendId|origin` and survive rebuilds, and so does each rule's
 * selector, so counters, health and rotation carry over when an unrelated backend joins or leaves.
 * Upstreams that disappear are retired once their in-flight work is done, which releases their origin's
 * connection pool.
 */
import type { Backend } from '../registry/backend.js';
import { targetOrigin } from '../registry/backend.js';
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

/** A backend's registry record and the upstreams built for it. */
interface BackendEntry {
  readonly backend: Backend;
  readonly upstreams: readonly Upstream[];
}

/** The live routing state of a data plane. */
export class RoutingState {
  /** The current table; replaced, never mutated. */
  table = new RouteTable([]);
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

  /** @param stats where traffic is counted; default a new {@link TrafficStats}. */
  constructor(selector: ProxySelectorFactory, ejection: EjectionPolicy, forwarder: Forwarder, stats: TrafficStats = new TrafficStats()) {
    this.stats = stats;
    this.#selector = selector;
    this.#ejection = ejection;
    this.#forwarder = forwarder;
  }

  /**
   * Rebuilds the table from the registry's backends and swaps it in. A backend whose registry record is
   * unchanged (the registry freezes records and replaces them on change) keeps its upstream list as is,
   * so a rebuild costs O(backends + rule memberships), not a pass over every target's address.
   */
  rebuild(backends: readonly Backend[], keepStats = false): void {
    const byBackend = new Map<string, BackendEntry>();
    const members = new Map<string, { rule: Backend['rules'][number]; upstreams: Upstream[] }>();
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
        if (member === undefined) members.set(key, (member = { rule, upstreams: [] }));
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
      routes.set(key, Object.freeze({ key, rule: member.rule, upstreams: member.upstreams, selector }));
    }
    this.#byBackend = byBackend;
    this.#routes = routes;
    this.table = new RouteTable([...routes.values()]);
    if (!keepStats) this.stats.retain(livePairs, liveAgents);
  }

  /**
   * Replaces the selection policy: every route gets a new selector of the new kind over the same
   * upstreams and the table is swapped at once. Requests in flight keep the upstream they were given.
   */
  setSelector(selector: ProxySelectorFactory): void {
    if (selector === this.#selector) return;
    this.#selector = selector;
    const routes = new Map<string, Route>();
    for (const [key, route] of this.#routes) routes.set(key, Object.freeze({ ...route, selector: selector(route.upstreams) }));
    this.#routes = routes;
    this.table = new RouteTable([...routes.values()]);
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
    return this.table.routes.map((route) => ({
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
    this.rebuild([], true);
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
