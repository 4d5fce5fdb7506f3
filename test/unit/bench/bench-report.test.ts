/** The bench's pure parts: wrk output parsing, medians, ratios and the required last line. */
import { describe, it, expect } from '@jest/globals';
import { parseOptions } from '../../../bench/options.js';
import { headline, httpRows, lastLine, median, type HttpSample } from '../../../bench/report.js';
import { parseWrkOutput } from '../../../bench/load/wrk.js';

const WRK_OUTPUT = `Running 10s test @ http://127.0.0.1:8080/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   520.31us  120.55us   8.91ms   91.02%
    Req/Sec    96.12k     3.21k  101.07k    74.00%
  Latency Distribution
     50%  498.00us
     75%  540.00us
     90%  610.00us
     99%    1.21ms
  956123 requests in 10.00s, 98.55MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  95611.40
Transfer/sec:      9.85MB
`;

function sample(contender: string, connections: number, rps: number): HttpSample {
  return {
    contender,
    connections,
    round: 0,
    load: { rps, p50Ms: 1, p99Ms: 2, requests: rps, errors: 0, non2xx: 0, tool: 'wrk' },
    cpuPercent: 50,
    rssMb: 60,
  };
}

describe('parseWrkOutput', () => {
  it('reads requests/s, p50/p99 in milliseconds, errors and non-2xx responses', () => {
    expect(parseWrkOutput(WRK_OUTPUT)).toEqual({
      rps: 95611.4,
      p50Ms: 0.498,
      p99Ms: 1.21,
      requests: 956123,
      errors: 3,
      non2xx: 4,
      tool: 'wrk',
    });
  });

  it('refuses output without a Requests/sec line', () => {
    expect(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused')).toThrow(/cannot parse wrk output/);
  });
});

describe('median', () => {
  it('takes the middle value, averages the two middle ones, and ignores missing values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([undefined, 5])).toBe(5);
    expect(median([])).toBeUndefined();
  });
});

describe('lastLine', () => {
  it('prints ratios at the highest concurrency and n/a for absent peers', () => {
    const rows = httpRows(
      [sample('direct', 50, 1000), sample('inteli', 50, 500), sample('http-proxy-ka', 50, 200), sample('inteli', 1, 1)],
      ['direct', 'inteli', 'http-proxy-ka', 'nginx'],
      [1, 50],
    );
    expect(lastLine(headline(rows))).toBe('inteli/direct=0.50 inteli/nginx=n/a inteli/http-proxy=2.50');
  });
});

describe('parseOptions', () => {
  it('quick mode runs direct and inteli with autocannon for one short round', () => {
    const options = parseOptions(['--quick'], {});
    expect(options).toMatchObject({ durationSeconds: 1, rounds: 1, tool: 'autocannon', contenders: ['direct', 'inteli'], connections: [50] });
  });

  it('flags override the environment', () => {
    expect(parseOptions(['--duration', '7'], { BENCH_DURATION: '2', BENCH_ROUNDS: '5' })).toMatchObject({ durationSeconds: 7, rounds: 5 });
  });

  it('a scenario sets its defaults, which later flags still override', () => {
    expect(parseOptions(['--scenario', 'tail'], {})).toMatchObject({ scenario: 'tail', contenders: ['direct', 'inteli', 'nginx'], connections: [1], rounds: 5, websocket: false, observeTail: true });
    expect(parseOptions(['--rounds', '2', '--scenario', 'tail'], {})).toMatchObject({ rounds: 2 });
    expect(parseOptions(['--scenario', 'ws'], {})).toMatchObject({ http: false, websocket: true, contenders: ['direct', 'inteli', 'nginx'] });
    expect(parseOptions(['--scenario', 'storm'], {})).toMatchObject({ agents: 2000, agentProcesses: 4 });
    expect(parseOptions(['--scenario', 'fleet'], {})).toMatchObject({ agents: 100 });
    expect(parseOptions(['--scenario', 'clients', '--clients', '500'], {})).toMatchObject({ clients: 500, clientsActive: 1000 });
    expect(parseOptions([], {})).toMatchObject({ scenario: 'peers', http: true });
  });

  it('rejects an unknown scenario', () => {
    expect(() => parseOptions(['--scenario', 'everything'], {})).toThrow(/--scenario must be one of peers, agents, storm, clients, tail, ws, fleet, got 'everything'/);
  });

  it('rejects an unknown contender and a bad duration, naming the option', () => {
    expect(() => parseOptions(['--contenders', 'apache'], {})).toThrow(/unknown contender 'apache'/);
    expect(() => parseOptions(['--duration', '0.5'], {})).toThrow(/--duration must be an integer >= 1/);
  });
});
