/**
 * A worker's copy of the primary's registry. It applies the primary's snapshot and changes to a local
 * {@link BackendRegistry} with the same backend ids (so drain, `whenIdle` and metrics line up across
 * processes), and detects a gap in the primary's version sequence: changes after a gap are dropped until
 * a new snapshot arrives, so the replica never routes from a registry that skipped a removal.
 */
import type { BackendRegistry } from '../registry/backend-registry.js';
import type { Backend, RemovalReason, RouteRule } from '../registry/backend.js';

/** A registry change as the primary publishes it. */
export type RegistryChange =
  | { readonly type: 'inteli.snapshot'; readonly version: number; readonly backends: readonly Backend[]; readonly reserved?: readonly RouteRule[] | undefined }
  | { readonly type: 'inteli.reserved'; readonly version: number; readonly rules: readonly RouteRule[] }
  | { readonly type: 'inteli.added'; readonly version: number; readonly backend: Backend }
  | { readonly type: 'inteli.updated'; readonly version: number; readonly backend: Backend }
  | { readonly type: 'inteli.removed'; readonly version: number; readonly backendId: string; readonly reason: RemovalReason };

/** What applying a change did. `resync`: a gap was seen; ask the primary for a snapshot. */
export type ApplyResult = 'applied' | 'ignored' | 'resync';

/** Mirrors the primary's registry into a local one. */
export class RegistryReplica {
  readonly #registry: BackendRegistry;
  /** The primary's version this replica reflects; undefined before the first snapshot or after a gap. */
  #version: number | undefined;

  /** @param registry the local registry the worker's data plane routes from; the replica is its only writer. */
  constructor(registry: BackendRegistry) {
    this.#registry = registry;
  }

  /** The primary's registry version this replica reflects, or undefined while waiting for a snapshot. */
  get version(): number | undefined {
    return this.#version;
  }

  /**
   * Applies one message. A snapshot always applies (backends it lacks are removed with reason `left`); a
   * change applies when its version follows the last one; an old or repeated version is ignored; a version
   * that skips ahead drops the change and returns `resync` (once: further changes are ignored until the
   * snapshot arrives). Never throws: a record the registry refuses also returns `resync`.
   */
  apply(change: RegistryChange): ApplyResult {
    if (change.type === 'inteli.snapshot') return this.#applySnapshot(change.version, change.backends, change.reserved ?? []);
    if (this.#version === undefined) return 'ignored';
    if (change.version <= this.#version) return 'ignored';
    if (change.version !== this.#version + 1) return this.#lost();
    try {
      if (change.type === 'inteli.removed') this.#registry.remove(change.backendId, change.reason);
      else if (change.type === 'inteli.reserved') this.#registry.setReserved(change.rules);
      else this.#registry.restore(change.backend);
    } catch {
      return this.#lost();
    }
    this.#version = change.version;
    return 'applied';
  }

  #applySnapshot(version: number, backends: readonly Backend[], reserved: readonly RouteRule[]): ApplyResult {
    const keep = new Set(backends.map((backend) => backend.id));
    for (const backend of this.#registry.list()) {
      if (!keep.has(backend.id)) this.#registry.remove(backend.id, 'left');
    }
    try {
      for (const backend of backends) this.#registry.restore(backend);
      this.#registry.setReserved(reserved);
    } catch {
      return this.#lost();
    }
    this.#version = version;
    return 'applied';
  }

  #lost(): ApplyResult {
    this.#version = undefined;
    return 'resync';
  }
}
