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
import { ruleKey } from './route-rule.js';
import type { Route } from './route.js';
import { RouteTable } from './route-table.js';
import type { ProxySelectorFactory } from './selectors/proxy-selector.js';
import { type EjectionPolicy, Upstream, type UpstreamSnapshot } from './upstream.js';

/** A route as status pages see it. */
export interface RouteSnapshot {
  /** `/api` or `example.com/api`. */
  readonly rule: string;
  readonly path: string;
  readonly host: string | undefined;
  readonly upstreams: readonly UpstreamSnapshot[];
}

/** The live routing state of a data plane. */
export class RoutingState {
  /** The current table; replaced, never mutated. */
  table = new RouteTable([]);
  /** Counter of everything in flight on the data plane. */
  readonly load = new LoadCounter('*');
  readonly #selector: ProxySelectorFactory;
  readonly #ejection: EjectionPolicy;
  readonly #forwarder: Forwarder;
  #upstreams = new Map<string, Upstream>();
  #routes = new Map<string, Route>();
  readonly #loads = new Map<string, LoadCounter>();
  readonly #retire = (upstream: Upstream): void => this.#forwarder.release(upstream.origin);

  constructor(selector: ProxySelectorFactory, ejection: EjectionPolicy, forwarder: Forwarder) {
    this.#selector = selector;
    this.#ejection = ejection;
    this.#forwarder = forwarder;
  }

  /** Rebuilds the table from the registry's backends and swaps it in. */
  rebuild(backends: readonly Backend[]): void {
    const upstreams = new Map<string, Upstream>();
    const members = new Map<string, { rule: Backend['rules'][number]; upstreams: Upstream[] }>();
    const liveBackends = new Set<string>();
    for (const backend of backends) {
      liveBackends.add(backend.id);
      const load = this.#loadOf(backend.id);
      const own: Upstream[] = [];
      for (const target of backend.targets) {
        const origin = targetOrigin(target);
        const key = `${backend.id}|${origin}`;
        if (upstreams.has(key)) continue;
        let upstream = this.#upstreams.get(key);
        if (upstream === undefined) {
          this.#forwarder.retain(origin, target);
          upstream = new Upstream(backend, target, origin, load, this.#ejection, this.#retire);
        } else {
          upstream.update(backend);
        }
        upstreams.set(key, upstream);
        own.push(upstream);
      }
      for (const rule of backend.rules) {
        const key = ruleKey(rule);
        let member = members.get(key);
        if (member === undefined) members.set(key, (member = { rule, upstreams: [] }));
        for (const upstream of own) if (!member.upstreams.includes(upstream)) member.upstreams.push(upstream);
      }
    }
    for (const [key, upstream] of this.#upstreams) if (!upstreams.has(key)) upstream.remove();
    for (const [id, load] of this.#loads) if (!liveBackends.has(id) && load.inFlight === 0) this.#loads.delete(id);

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
    this.#upstreams = upstreams;
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

  /** Every upstream, live or retiring. */
  upstreams(): Upstream[] {
    return [...this.#upstreams.values()];
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

  /** Removes every upstream (stop); pools are released as their work ends. */
  clear(): void {
    this.rebuild([]);
  }

  #loadOf(backendId: string): LoadCounter {
    let load = this.#loads.get(backendId);
    if (load === undefined) this.#loads.set(backendId, (load = new LoadCounter(backendId, this.load)));
    return load;
  }
}
