/**
 * prom-client's default collectors (process CPU, memory, file descriptors, event-loop lag, GC, heap
 * spaces, Node version), under their standard names (`process_*`, `nodejs_*`) so that existing Node
 * dashboards work unchanged.
 *
 * They describe the process, not a proxy, and two of them hold resources for good (a GC
 * `PerformanceObserver`, an enabled event-loop-delay monitor): so there is one registry per process,
 * made on the first scrape, shared by every proxy in it (tests and embedders may run several), rather
 * than one per `ProxyMetrics`.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

let shared: Registry | undefined;

/** The process-wide registry of the default collectors, created on first use. */
export function processMetricsRegistry(): Registry {
  if (shared === undefined) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}
