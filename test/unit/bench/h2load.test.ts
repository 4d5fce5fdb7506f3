import { describe, expect, it } from '@jest/globals';
import { parseH2loadOutput } from '../../../bench/load/h2load.js';

const SAMPLE = `Application protocol: h2
finished in 1.00s, 19416.00 req/s, 587.96KB/s
requests: 19416 total, 19420 started, 19416 done, 19416 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 19418 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 587.96KB (602068) total, 38.02KB (38928) headers (space savings 95.34%), 37.93KB (38836) data
                     min         max         mean         sd        +/- sd
time for request:       67us     13.18ms       201us       498us    96.89%
time for connect:     3.10ms      7.86ms      5.48ms      3.37ms   100.00%
`;

describe('h2load report', () => {
  it('parses throughput, mean and max latency, and failures', () => {
    expect(parseH2loadOutput(SAMPLE)).toEqual({ rps: 19416, meanMs: 0.201, maxMs: 13.18, succeeded: 19416, failed: 0 });
  });

  it('refuses output it cannot read', () => {
    expect(() => parseH2loadOutput('nothing here')).toThrow(/cannot parse h2load output/);
  });
});
