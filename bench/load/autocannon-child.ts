/**
 * autocannon in its own process, used when wrk is not installed. Its latency histogram has 1 ms
 * resolution, so sub-millisecond p50/p99 read as 0 or 1 ms; wrk reports microseconds.
 */
import autocannon from 'autocannon';
import { childArgs, runChild, sendToParent } from '../lib/child-runtime.js';
import type { LoadResult } from './load-result.js';

/** Arguments from the parent. */
export interface AutocannonArgs {
  readonly url: string;
  readonly connections: number;
  readonly durationSeconds: number;
}

runChild<null>(async () => {
  const { url, connections, durationSeconds } = childArgs<AutocannonArgs>();
  // Report ready first, then run: the parent starts its CPU meter on `ready`.
  setImmediate(() => {
    autocannon({ url, connections, duration: durationSeconds, timeout: 5 }).then(
      (result) => {
        const outcome: LoadResult = {
          rps: result.requests.total / result.duration,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          requests: result.requests.total,
          errors: result.errors + result.timeouts,
          non2xx: result.non2xx,
          tool: 'autocannon',
        };
        sendToParent('result', outcome);
      },
      (error: unknown) => sendToParent('error', String(error)),
    );
  });
  return { ready: null, stop: async () => undefined };
});
