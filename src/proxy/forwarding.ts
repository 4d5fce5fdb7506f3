/**
 * The one narrow interface between a {@link ProxyHost} and what forwards its traffic: a one-process
 * `DataPlane`, or the cluster's `WorkerPool` of data planes in worker processes. The host (its control
 * plane, admin listener and metrics) reads and drives forwarding only through these methods, so it never
 * needs to know which of the two it runs over.
 */
import type { DataPlaneAddresses, DataPlaneSnapshot } from './data-plane/data-plane.js';
import type { ListenerProtocolStats } from './data-plane/h2-listener.js';
import type { LiveDataPlaneOptions } from './data-plane/live-options.js';
import type { TrafficStats } from './data-plane/traffic-stats.js';
import type { LogLevel } from '../shared/env.js';

/** What forwards requests for a host: a data plane or a pool of workers. */
export interface Forwarding {
  /**
   * Binds the data-plane listeners (or forks the workers and waits until each listens).
   *
   * @throws {ListenError} | {TlsError} when a port cannot be bound or the certificate is unusable.
   */
  start(): Promise<unknown>;
  /**
   * Stops gracefully: new requests get 503 + `Connection: close`, in-flight ones finish within the
   * shutdown bound. Must begin synchronously (before its first await), so the host can close the control
   * plane meanwhile. Idempotent, and safe before `start()`.
   */
  stop(): Promise<void>;
  /** Called synchronously as soon as the host's `stop()` is called, even while a start is under way. */
  markStopping?(): void;
  /**
   * Applies new values of the live data-plane options to new requests everywhere requests are served
   * (and, in worker processes, the new log level); resolves once they apply.
   *
   * @throws {InvalidOptionError} naming the option; nothing changes then.
   */
  reconfigure(change: LiveDataPlaneOptions, logLevel?: LogLevel): Promise<void>;
  /** Resolves once the backend has no request or tunnel in flight anywhere (at once if it has none). */
  whenIdle(backendId: string): Promise<void>;
  /**
   * Resolves once every forwarding process routes the backend. Omitted when forwarding reads the host's
   * registry directly (a one-process data plane routes a backend as soon as it is added).
   */
  whenRouted?(backendId: string): Promise<void>;
  /** Bound data-plane addresses; empty before `start()` resolves. */
  readonly addresses: DataPlaneAddresses;
  /** Routes, upstreams and in-flight counts (summed over workers in a cluster). */
  snapshot(): DataPlaneSnapshot;
  /** Traffic counters (plain integers, read at scrape time). */
  readonly stats: TrafficStats;
  /** Bytes read from and written to clients so far. */
  clientBytes(): { readonly bytesIn: number; readonly bytesOut: number };
  /**
   * Requests by downstream protocol (HTTP/1.1, h2) and HTTP/2 session counters. Omitted by the worker
   * pool (its workers do not report them yet).
   */
  readonly protocolStats?: ListenerProtocolStats | undefined;
}
