/** One measurement: load on a URL from wrk or autocannon (or the WebSocket echo client), with the CPU and RSS of the proxy. */
import { startChild } from './lib/child-process.js';
import { startCpuMeter } from './lib/process-stats.js';
import type { AutocannonArgs } from './load/autocannon-child.js';
import type { LoadResult } from './load/load-result.js';
import { runWrk } from './load/wrk.js';
import type { WsEchoArgs, WsEchoResult } from './load/ws-echo-child.js';

/** Load result plus the proxy process tree's CPU and RSS during it. */
export interface Measured<T> {
  readonly result: T;
  readonly cpuPercent: number | undefined;
  readonly rssMb: number | undefined;
}

/**
 * Loads `url` at `connections` for `seconds`; wrk when `wrkPath` is set, else autocannon in a child
 * process. `pid` is the proxy whose CPU and RSS are read (undefined for direct).
 */
export async function measureHttp(
  wrkPath: string | undefined,
  url: string,
  pid: number | undefined,
  connections: number,
  seconds: number,
): Promise<Measured<LoadResult>> {
  if (wrkPath !== undefined) {
    const meter = startCpuMeter(pid);
    const result = await runWrk(wrkPath, url, connections, seconds);
    return { result, ...meter.stop() };
  }
  const child = await startChild<null>(new URL('./load/autocannon-child.js', import.meta.url), {
    url,
    connections,
    durationSeconds: seconds,
  } satisfies AutocannonArgs);
  try {
    const meter = startCpuMeter(pid);
    const result = await child.next<LoadResult>('result', (seconds + 30) * 1000);
    return { result, ...meter.stop() };
  } finally {
    await child.stop();
  }
}

/** Runs the WebSocket echo client against `url` (http:// is turned into ws://). */
export async function measureWs(url: string, pid: number | undefined, connections: number, seconds: number): Promise<Measured<WsEchoResult>> {
  const child = await startChild<null>(new URL('./load/ws-echo-child.js', import.meta.url), {
    url: `${url.replace(/^http/, 'ws')}/`,
    connections,
    durationSeconds: seconds,
  } satisfies WsEchoArgs);
  try {
    const meter = startCpuMeter(pid);
    const result = await child.next<WsEchoResult>('result', (seconds + 30) * 1000);
    return { result, ...meter.stop() };
  } finally {
    await child.stop();
  }
}
