/** Runs `wrk -t1 -cN -dDs --latency` and parses its text report. */
import { execFile } from 'node:child_process';
import type { LoadResult } from './load-result.js';

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (match === null) return Number.NaN;
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** Parses wrk's `--latency` output. Exported for tests. */
export function parseWrkOutput(output: string): LoadResult {
  const percentile = (p: string): number => {
    const match = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(output);
    return match === null ? Number.NaN : durationMs(match[1]!);
  };
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const requests = /^\s+(\d+) requests in/m.exec(output);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  if (rps === null) throw new Error(`cannot parse wrk output:\n${output}`);
  return {
    rps: Number(rps[1]),
    p50Ms: percentile('50'),
    p99Ms: percentile('99'),
    requests: requests === null ? 0 : Number(requests[1]),
    errors: socketErrors === null ? 0 : socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0),
    non2xx: non2xx === null ? 0 : Number(non2xx[1]),
    tool: 'wrk',
  };
}

/** Runs wrk with one thread against `url` for `durationSeconds` at `connections`. */
export function runWrk(wrkPath: string, url: string, connections: number, durationSeconds: number): Promise<LoadResult> {
  const args = ['-t1', `-c${connections}`, `-d${durationSeconds}s`, '--latency', '--timeout', '5s', url];
  return new Promise((resolve, reject) => {
    execFile(wrkPath, args, { timeout: (durationSeconds + 30) * 1000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`wrk failed: ${error.message}\n${stderr}`));
      else {
        try {
          resolve(parseWrkOutput(stdout));
        } catch (parseError) {
          reject(parseError instanceof Error ? parseError : new Error(String(parseError)));
        }
      }
    });
  });
}
