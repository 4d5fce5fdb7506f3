/**
 * CPU time and resident memory of a process and its descendants, read from Linux /proc. Reading the tree
 * matters for nginx (master + worker). On other systems every function returns undefined and the table
 * shows `-`.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every mainstream Linux build. */
const CLOCK_TICKS_PER_SECOND = 100;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** `pid` and all of its descendants that are alive now. */
export function processTree(pid: number): number[] {
  const result: number[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    const current = pending.pop()!;
    if (readText(`/proc/${current}/stat`) === undefined) continue;
    result.push(current);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${current}/task`);
    } catch {
      tasks = [];
    }
    for (const task of tasks) {
      const children = readText(`/proc/${current}/task/${task}/children`) ?? '';
      for (const child of children.split(' ')) if (child.trim() !== '') pending.push(Number(child));
    }
  }
  return result;
}

/** User + system CPU seconds consumed so far by the given processes, or undefined when unreadable. */
export function cpuSeconds(pids: readonly number[]): number | undefined {
  let ticks = 0;
  let seen = false;
  for (const pid of pids) {
    const stat = readText(`/proc/${pid}/stat`);
    if (stat === undefined) continue;
    // The command name (field 2) may contain spaces; fields after the closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
    seen = true;
  }
  return seen ? ticks / CLOCK_TICKS_PER_SECOND : undefined;
}

/** Summed resident set size in bytes, or undefined when unreadable. */
export function rssBytes(pids: readonly number[]): number | undefined {
  let total = 0;
  let seen = false;
  for (const pid of pids) {
    const status = readText(`/proc/${pid}/status`);
    const match = status === undefined ? null : /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (match === null) continue;
    total += Number(match[1]) * 1024;
    seen = true;
  }
  return seen ? total : undefined;
}

/** A running measurement of one process tree's CPU usage. */
export interface CpuMeter {
  /** CPU percent of one core since the meter started (100 = one core busy), or undefined. */
  stop(): { cpuPercent: number | undefined; rssMb: number | undefined };
}

/** Starts measuring the CPU of `pid` and its descendants; pass undefined for "not applicable". */
export function startCpuMeter(pid: number | undefined): CpuMeter {
  if (pid === undefined) return { stop: () => ({ cpuPercent: undefined, rssMb: undefined }) };
  const startedAt = process.hrtime.bigint();
  const startCpu = cpuSeconds(processTree(pid));
  return {
    stop: () => {
      const pids = processTree(pid);
      const endCpu = cpuSeconds(pids);
      const wallSeconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      const rss = rssBytes(pids);
      return {
        cpuPercent:
          startCpu === undefined || endCpu === undefined || wallSeconds <= 0
            ? undefined
            : ((endCpu - startCpu) / wallSeconds) * 100,
        rssMb: rss === undefined ? undefined : rss / (1024 * 1024),
      };
    },
  };
}
