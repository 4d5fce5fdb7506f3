/**
 * The registry of live backends: plain state plus change events. The control plane writes to it, the
 * data plane rebuilds its routing table from {@link BackendRegistry.list} on every `change`, and nothing
 * here knows about sockets or pools.
 */
import { EventEmitter } from 'node:events';
import { InvalidOptionError } from '../../shared/errors.js';
import type { Backend, BackendInput, BackendState, RemovalReason, RouteRule } from './backend.js';

/** Default weight of a backend that does not declare one. */
export const DEFAULT_BACKEND_WEIGHT = 1;
/** Largest accepted weight; keeps the weighted policy's precomputed wheel small. */
export const MAX_BACKEND_WEIGHT = 1000;

/** Events emitted by {@link BackendRegistry}. */
export interface BackendRegistryEvents {
  /** A backend joined. */
  added: [backend: Backend];
  /** A backend left, with the reason. */
  removed: [backend: Backend, reason: RemovalReason];
  /** A backend changed state (ready/draining/unhealthy). */
  updated: [backend: Backend];
  /** The reserved rules changed (see {@link BackendRegistry.setReserved}). */
  reserved: [rules: readonly RouteRule[]];
  /** Any of the above; listeners rebuild derived structures here. Emitted after the specific event. */
  change: [];
}

/** True when two records hold the same data (records are small plain objects; JSON order is stable here). */
function sameBackend(a: Backend, b: Backend): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Holds every registered backend. Synchronous: a change is visible to the next request. */
export class BackendRegistry extends EventEmitter<BackendRegistryEvents> {
  readonly #backends = new Map<string, Backend>();
  #reserved: readonly RouteRule[] = Object.freeze([]);
  #sequence = 0;
  #version = 0;

  /** Incremented on every change; lets consumers skip rebuilds they have already done. */
  get version(): number {
    return this.#version;
  }

  /** Number of registered backends. */
  get size(): number {
    return this.#backends.size;
  }

  /** Registers a backend and returns it with its generated id. */
  add(input: BackendInput): Backend {
    const weight = input.weight ?? DEFAULT_BACKEND_WEIGHT;
    if (!Number.isInteger(weight) || weight < 1 || weight > MAX_BACKEND_WEIGHT) {
      throw new InvalidOptionError(`weight must be an integer from 1 to ${MAX_BACKEND_WEIGHT}, got ${weight}`);
    }
    if (input.targets.length === 0) throw new InvalidOptionError('a backend needs at least one target');
    if (input.rules.length === 0) throw new InvalidOptionError('a backend needs at least one rule');
    this.#sequence += 1;
    const backend: Backend = Object.freeze({
      id: `${input.agentId}#${this.#sequence}`,
      agentId: input.agentId,
      fingerprint: input.fingerprint,
      targets: Object.freeze(input.targets.map((target) => Object.freeze({ ...target }))),
      rules: Object.freeze(input.rules.map((rule) => Object.freeze({ ...rule }))),
      weight,
      state: input.state ?? 'ready',
      meta: Object.freeze({ ...(input.meta ?? {}) }),
      registeredAt: Date.now(),
      // Optional route settings are copied only when set, so records stay small and compare equal.
      ...(input.affinity === undefined ? {} : { affinity: input.affinity }),
      ...(input.affinityHeader === undefined ? {} : { affinityHeader: input.affinityHeader }),
      ...(input.bodyTimeoutMs === undefined ? {} : { bodyTimeoutMs: input.bodyTimeoutMs }),
    });
    this.#backends.set(backend.id, backend);
    this.#changed();
    this.emit('added', backend);
    this.emit('change');
    return backend;
  }

  /** Removes a backend; returns false when it was not registered (removal is idempotent). */
  remove(id: string, reason: RemovalReason): boolean {
    const backend = this.#backends.get(id);
    if (backend === undefined) return false;
    this.#backends.delete(id);
    this.#changed();
    this.emit('removed', backend, reason);
    this.emit('change');
    return true;
  }

  /** Changes a backend's state; returns the updated backend, or undefined when unknown. */
  setState(id: string, state: BackendState): Backend | undefined {
    const backend = this.#backends.get(id);
    if (backend === undefined) return undefined;
    if (backend.state === state) return backend;
    const updated: Backend = Object.freeze({ ...backend, state });
    this.#backends.set(id, updated);
    this.#changed();
    this.emit('updated', updated);
    this.emit('change');
    return updated;
  }

  /**
   * Puts a backend record exactly as given (id, state and timestamps included), for a replica that mirrors
   * another registry (cluster workers mirror the primary's, so backend ids, drain and metrics line up).
   * Emits `added` for a new id, `updated` when the record differs from the one held, nothing otherwise.
   * It does not advance the sequence of {@link BackendRegistry.add}: a registry is either a replica
   * (only `restore`/`remove`) or an origin (`add`), never both, or ids could collide.
   *
   * @throws {InvalidOptionError} for a weight out of range or a backend without targets or rules.
   */
  restore(backend: Backend): Backend {
    if (!Number.isInteger(backend.weight) || backend.weight < 1 || backend.weight > MAX_BACKEND_WEIGHT) {
      throw new InvalidOptionError(`weight must be an integer from 1 to ${MAX_BACKEND_WEIGHT}, got ${backend.weight}`);
    }
    if (backend.targets.length === 0) throw new InvalidOptionError('a backend needs at least one target');
    if (backend.rules.length === 0) throw new InvalidOptionError('a backend needs at least one rule');
    const previous = this.#backends.get(backend.id);
    const record: Backend = Object.freeze({
      ...backend,
      targets: Object.freeze(backend.targets.map((target) => Object.freeze({ ...target }))),
      rules: Object.freeze(backend.rules.map((rule) => Object.freeze({ ...rule }))),
      meta: Object.freeze({ ...backend.meta }),
    });
    if (previous !== undefined && sameBackend(previous, record)) return previous;
    this.#backends.set(record.id, record);
    this.#changed();
    this.emit(previous === undefined ? 'added' : 'updated', record);
    this.emit('change');
    return record;
  }

  /**
   * Rules reserved by the trust store's scopes: while some trusted key may serve a rule, requests under
   * it never fall through to a shorter rule; with no backend registered they answer 403 `NO_TARGET`.
   */
  get reserved(): readonly RouteRule[] {
    return this.#reserved;
  }

  /**
   * Replaces the reserved rules (a change like any other: version bumped, `reserved` then `change`
   * emitted). Does nothing when the list is the same.
   */
  setReserved(rules: readonly RouteRule[]): void {
    const next = Object.freeze(rules.map((rule) => Object.freeze({ path: rule.path, host: rule.host })));
    if (JSON.stringify(next) === JSON.stringify(this.#reserved)) return;
    this.#reserved = next;
    this.#changed();
    this.emit('reserved', next);
    this.emit('change');
  }

  /** The backend with this id, if registered. */
  get(id: string): Backend | undefined {
    return this.#backends.get(id);
  }

  /** Every registered backend, in registration order. */
  list(): Backend[] {
    return [...this.#backends.values()];
  }

  /** Backends registered by one agent. */
  listByAgent(agentId: string): Backend[] {
    return this.list().filter((backend) => backend.agentId === agentId);
  }

  /** Removes every backend with the given reason (used by stop). */
  clear(reason: RemovalReason): void {
    for (const id of [...this.#backends.keys()]) this.remove(id, reason);
  }

  #changed(): void {
    this.#version += 1;
  }
}
