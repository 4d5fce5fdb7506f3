/** Turns bench samples into medians, a text table, ratios and the final summary line. */
import type { LoadResult } from './load/load-result.js';

/** One HTTP measurement. */
export interface HttpSample {
  readonly contender: string;
  readonly connections: number;
  readonly round: number;
  readonly load: LoadResult;
  readonly cpuPercent: number | undefined;
  readonly rssMb: number | undefined;
}

/** One WebSocket echo measurement. */
export interface WsSample {
  readonly contender: string;
  readonly round: number;
  readonly messagesPerSecond: number;
  readonly errors: number;
  readonly cpuPercent: number | undefined;
  readonly rssMb: number | undefined;
}

/** Medians of one contender at one concurrency. */
export interface HttpRow {
  readonly contender: string;
  readonly connections: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuPercent: number | undefined;
  readonly rssMb: number | undefined;
  /** Socket errors plus non-2xx responses over all rounds; a non-zero value makes the row suspect. */
  readonly failures: number;
  readonly rounds: number;
}

/** Medians of one contender in the echo test. */
export interface WsRow {
  readonly contender: string;
  readonly messagesPerSecond: number;
  readonly cpuPercent: number | undefined;
  readonly rssMb: number | undefined;
  readonly errors: number;
}

/** Median of the defined values, or undefined when there are none. */
export function median(values: readonly (number | undefined)[]): number | undefined {
  const sorted = values.filter((value): value is number => value !== undefined && Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Groups samples by contender and concurrency, in the given contender order. */
export function httpRows(samples: readonly HttpSample[], order: readonly string[], connections: readonly number[]): HttpRow[] {
  const rows: HttpRow[] = [];
  for (const c of connections) {
    for (const contender of order) {
      const group = samples.filter((s) => s.contender === contender && s.connections === c);
      if (group.length === 0) continue;
      rows.push({
        contender,
        connections: c,
        rps: median(group.map((s) => s.load.rps)) ?? 0,
        p50Ms: median(group.map((s) => s.load.p50Ms)) ?? Number.NaN,
        p99Ms: median(group.map((s) => s.load.p99Ms)) ?? Number.NaN,
        cpuPercent: median(group.map((s) => s.cpuPercent)),
        rssMb: median(group.map((s) => s.rssMb)),
        failures: group.reduce((sum, s) => sum + s.load.errors + s.load.non2xx, 0),
        rounds: group.length,
      });
    }
  }
  return rows;
}

/** Medians of the echo samples, in the given contender order. */
export function wsRows(samples: readonly WsSample[], order: readonly string[]): WsRow[] {
  return order.flatMap((contender) => {
    const group = samples.filter((s) => s.contender === contender);
    if (group.length === 0) return [];
    return [
      {
        contender,
        messagesPerSecond: median(group.map((s) => s.messagesPerSecond)) ?? 0,
        cpuPercent: median(group.map((s) => s.cpuPercent)),
        rssMb: median(group.map((s) => s.rssMb)),
        errors: group.reduce((sum, s) => sum + s.errors, 0),
      },
    ];
  });
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

function table(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/**
 * Proxy CPU time per request in microseconds. On a shared 2-core machine throughput moves with the
 * neighbours' load; CPU per request moves much less and is the fairer way to compare proxies.
 */
export function cpuMicrosPerRequest(row: HttpRow): number | undefined {
  return row.cpuPercent === undefined || row.rps === 0 ? undefined : (row.cpuPercent / 100 / row.rps) * 1e6;
}

/** The HTTP table with ratios to direct and nginx at the same concurrency. */
export function formatHttpTable(rows: readonly HttpRow[]): string {
  const rpsOf = (name: string, c: number): number | undefined => rows.find((r) => r.contender === name && r.connections === c)?.rps;
  const body = rows.map((row) => [
    row.contender,
    String(row.connections),
    row.rps.toFixed(0),
    fixed(row.p50Ms, 3),
    fixed(row.p99Ms, 3),
    fixed(row.cpuPercent, 0),
    fixed(cpuMicrosPerRequest(row), 1),
    fixed(row.rssMb, 1),
    fixed(ratio(row.rps, rpsOf('direct', row.connections)), 2),
    fixed(ratio(row.rps, rpsOf('nginx', row.connections)), 2),
    row.failures === 0 ? '' : `${row.failures} failed`,
  ]);
  return table(['contender', 'c', 'req/s', 'p50 ms', 'p99 ms', 'CPU%', 'us/req', 'RSS MB', '/direct', '/nginx', ''], body);
}

/** The WebSocket echo table. */
export function formatWsTable(rows: readonly WsRow[]): string {
  const of = (name: string): number | undefined => rows.find((r) => r.contender === name)?.messagesPerSecond;
  const body = rows.map((row) => [
    row.contender,
    row.messagesPerSecond.toFixed(0),
    fixed(row.cpuPercent, 0),
    fixed(row.rssMb, 1),
    fixed(ratio(row.messagesPerSecond, of('direct')), 2),
    fixed(ratio(row.messagesPerSecond, of('nginx')), 2),
    row.errors === 0 ? '' : `${row.errors} errors`,
  ]);
  return table(['contender', 'msg/s', 'CPU%', 'RSS MB', '/direct', '/nginx', ''], body);
}

/** Ratios of inteli at the highest measured concurrency; `undefined` where a peer is absent. */
export interface Headline {
  readonly connections: number;
  readonly direct: number | undefined;
  readonly nginx: number | undefined;
  readonly httpProxy: number | undefined;
  readonly undici: number | undefined;
  readonly haproxy: number | undefined;
  readonly scale: number | undefined;
  /** `inteli-x2` (two cluster workers) / nginx. */
  readonly clusterNginx: number | undefined;
}

/** Computes the headline ratios. */
export function headline(rows: readonly HttpRow[]): Headline {
  const connections = Math.max(...rows.map((r) => r.connections));
  const rps = (name: string): number | undefined => rows.find((r) => r.contender === name && r.connections === connections)?.rps;
  const inteli = rps('inteli');
  return {
    connections,
    direct: ratio(inteli, rps('direct')),
    nginx: ratio(inteli, rps('nginx')),
    httpProxy: ratio(inteli, rps('http-proxy-ka')),
    undici: ratio(inteli, rps('undici-bare')),
    haproxy: ratio(inteli, rps('haproxy')),
    scale: ratio(rps('inteli-10k'), inteli),
    clusterNginx: ratio(rps('inteli-x2'), rps('nginx')),
  };
}

/** The required last line: `inteli/direct=X inteli/nginx=Y inteli/http-proxy=Z`. */
export function lastLine(h: Headline): string {
  const show = (value: number | undefined): string => (value === undefined ? 'n/a' : value.toFixed(2));
  return `inteli/direct=${show(h.direct)} inteli/nginx=${show(h.nginx)} inteli/http-proxy=${show(h.httpProxy)}`;
}
