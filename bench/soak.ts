/**
 * Memory over a long run: one contender under constant load for `seconds` while its RSS is sampled every
 * few seconds. "Flat" means the last samples are not above the early ones by more than noise.
 */
import { processTree, rssBytes } from './lib/process-stats.js';
import { measureHttp } from './measure.js';

/** RSS samples of a soak run. */
export interface SoakResult {
  readonly seconds: number;
  readonly connections: number;
  readonly rps: number;
  /** `[elapsed seconds, RSS MB]` pairs. */
  readonly samples: readonly (readonly [number, number])[];
  /** Median of the first quarter of the samples (after warm-up), MB. */
  readonly earlyMb: number;
  /** Median of the last quarter, MB. */
  readonly lateMb: number;
  readonly maxMb: number;
}

/** How often RSS is read during a soak. */
const SAMPLE_INTERVAL_MS = 5_000;

function middle(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Runs the soak against `url`, sampling the RSS of `pid`'s process tree. */
export async function soak(wrkPath: string | undefined, url: string, pid: number, connections: number, seconds: number): Promise<SoakResult> {
  const samples: [number, number][] = [];
  const startedAt = Date.now();
  const sample = (): void => {
    const rss = rssBytes(processTree(pid));
    if (rss !== undefined) samples.push([(Date.now() - startedAt) / 1000, rss / (1024 * 1024)]);
  };
  const timer = setInterval(sample, SAMPLE_INTERVAL_MS);
  let rps: number;
  try {
    rps = (await measureHttp(wrkPath, url, pid, connections, seconds)).result.rps;
  } finally {
    clearInterval(timer);
  }
  sample();
  const quarter = Math.max(1, Math.floor(samples.length / 4));
  const values = samples.map(([, mb]) => mb);
  return {
    seconds,
    connections,
    rps,
    samples,
    earlyMb: middle(values.slice(0, quarter)),
    lateMb: middle(values.slice(-quarter)),
    maxMb: Math.max(...values),
  };
}
