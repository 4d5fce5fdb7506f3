/**
 * Where a proxy process's latency tail can come from, observed from inside it (the `tail` scenario):
 * every GC pause (perf_hooks `gc` entries, by kind) and the event-loop delay histogram. Both are cheap:
 * the GC observer is called once per collection, the delay monitor samples every
 * {@link EVENT_LOOP_RESOLUTION_MS} ms.
 */
import { writeFileSync } from 'node:fs';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

/** Sampling interval of the event-loop delay monitor. */
const EVENT_LOOP_RESOLUTION_MS = 5;

/** What {@link TailObserver.writeTo} writes. */
export interface TailObservation {
  /** Seconds observed. */
  readonly seconds: number;
  /** Pauses per GC kind: count, total and largest duration in ms. */
  readonly gc: Readonly<Record<string, { count: number; totalMs: number; maxMs: number; over1Ms: number }>>;
  /** Event-loop delay beyond the sampling interval, in ms. */
  readonly eventLoopDelayMs: { p50: number; p99: number; max: number };
}

/** A running observation. */
export interface TailObserver {
  /** Stops observing and writes the summary as JSON to `file`. */
  writeTo(file: string): void;
}

const KINDS: Readonly<Record<number, string>> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental-marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};

/** Starts observing this process. */
export function observeTail(): TailObserver {
  const startedAt = performance.now();
  const gc: Record<string, { count: number; totalMs: number; maxMs: number; over1Ms: number }> = {};
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = KINDS[(entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other';
      const bucket = (gc[kind] ??= { count: 0, totalMs: 0, maxMs: 0, over1Ms: 0 });
      bucket.count += 1;
      bucket.totalMs += entry.duration;
      bucket.maxMs = Math.max(bucket.maxMs, entry.duration);
      if (entry.duration > 1) bucket.over1Ms += 1;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const delay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  delay.enable();
  return {
    writeTo(file: string): void {
      observer.disconnect();
      delay.disable();
      // The histogram holds the whole sampling interval in every sample; what matters is the excess.
      const excess = (ns: number): number => Math.max(0, ns / 1e6 - EVENT_LOOP_RESOLUTION_MS);
      const observation: TailObservation = {
        seconds: (performance.now() - startedAt) / 1000,
        gc,
        eventLoopDelayMs: { p50: excess(delay.percentile(50)), p99: excess(delay.percentile(99)), max: excess(delay.max) },
      };
      writeFileSync(file, `${JSON.stringify(observation)}\n`);
    },
  };
}
