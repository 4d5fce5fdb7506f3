/** Runs `h2load` (Debian `nghttp2-client`) for a duration and parses its text report. */
import { execFile } from 'node:child_process';

/** What one h2load run measured. h2load reports the mean and the maximum, not percentiles. */
export interface H2LoadResult {
  readonly rps: number;
  readonly meanMs: number;
  readonly maxMs: number;
  readonly succeeded: number;
  readonly failed: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

function ms(value: string | undefined, unit: string | undefined): number {
  return value === undefined || unit === undefined ? Number.NaN : Number(value) * (UNIT_MS[unit] ?? Number.NaN);
}

/** Parses h2load's report. Exported for tests. */
export function parseH2loadOutput(output: string): H2LoadResult {
  const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(output);
  const requests = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(output);
  const time = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(output);
  if (rps === null || requests === null) throw new Error(`cannot parse h2load output:\n${output}`);
  return {
    rps: Number(rps[1]),
    meanMs: ms(time?.[5], time?.[6]),
    maxMs: ms(time?.[3], time?.[4]),
    succeeded: Number(requests[1]),
    failed: Number(requests[2]) + Number(requests[3]) + Number(requests[4]),
  };
}

/** Loads `url` with `clients` connections of `streams` concurrent streams each, for `seconds`. */
export function runH2load(h2loadPath: string, url: string, clients: number, streams: number, seconds: number): Promise<H2LoadResult> {
  const args = ['-t1', `-c${clients}`, `-m${streams}`, `-D${seconds}`, '--warm-up-time=1', url];
  return new Promise((resolve, reject) => {
    execFile(h2loadPath, args, { timeout: (seconds + 30) * 1000, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`h2load failed: ${error.message}\n${stderr}`));
      else {
        try {
          resolve(parseH2loadOutput(stdout));
        } catch (parseError) {
          reject(parseError instanceof Error ? parseError : new Error(String(parseError)));
        }
      }
    });
  });
}
