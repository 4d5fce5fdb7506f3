/**
 * The `clients` scenario (issue 17): `--clients` keep-alive client connections held through the proxy,
 * idle and then all active at once, and throughput at `--clients-active` connections, inteli and nginx
 * side by side. Memory per connection is the RSS growth of the proxy process tree divided by the
 * connections held (one GET was answered on each, so every connection went through the whole path),
 * measured on fresh processes before the throughput rounds (whose load would inflate the baseline).
 * inteli runs with a client keep-alive timeout longer than the run (its default, 5 s, would close idle
 * connections while the others are still being opened); nginx keeps them 75 s by default.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackendsArgs, BackendsReady } from '../backends/backends-child.js';
import type { ContenderContext, ContenderSpec, RunningContender } from '../contenders/contender.js';
import { nginxContender } from '../contenders/nginx.js';
import { inteliContender } from '../contenders/node-contenders.js';
import type { AgentCredentials } from '../contenders/register-backends.js';
import { startChild, type ChildHandle } from '../lib/child-process.js';
import { processTree, rssBytes } from '../lib/process-stats.js';
import { which } from '../lib/which.js';
import type { HoldArgs, HoldReport } from '../load/hold-connections-child.js';
import { measureHttp } from '../measure.js';
import type { BenchOptions } from '../options.js';

/** inteli's client keep-alive timeout in this scenario: longer than any run. */
const HELD_KEEP_ALIVE_MS = 600_000;
/** Bound on opening or exercising every held connection. */
const HOLD_TIMEOUT_MS = 300_000;

type Log = (message: string) => void;

/** One contender's figures. */
export interface ClientsRow {
  readonly contender: string;
  readonly held: number;
  readonly failed: number;
  readonly openMs: number;
  readonly rssIdleMb: number;
  readonly rssHeldMb: number;
  readonly kbPerIdleConnection: number;
  readonly activeMs: number;
  readonly rssActiveMb: number;
  readonly kbPerActiveConnection: number;
  readonly rps: number[];
  readonly p99Ms: number[];
  readonly cpuPercent: number[];
}

function median(values: readonly number[]): number {
  const sorted = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)]!;
}

function rssMbOf(pid: number | undefined): number {
  return pid === undefined ? Number.NaN : (rssBytes(processTree(pid)) ?? Number.NaN) / 2 ** 20;
}

/** Soft limit of open files of a process, from /proc (NaN when unreadable). */
function openFilesLimit(pid: number): number {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return match === null ? Number.NaN : Number(match[1]);
  } catch {
    return Number.NaN;
  }
}

/** Runs the scenario and returns the figures and the report lines. */
export async function runClientsScenario(options: BenchOptions, log: Log): Promise<{ result: ClientsRow[]; lines: string[] }> {
  const tmpDir = mkdtempSync(join(tmpdir(), 'inteli-bench-clients-'));
  const wrkPath = options.tool === 'autocannon' ? undefined : which('wrk');
  const notes: string[] = [];
  // Each held client connection costs a descriptor in the holder and in the proxy (plus upstream ones).
  const needed = options.clients + 1_000;
  if (openFilesLimit(process.pid) < needed) {
    notes.push(`open-files limit ${openFilesLimit(process.pid)} < ${needed}: raise it (ulimit -n) or lower --clients; connections past it fail`);
  }
  let backends: ChildHandle<BackendsReady> | undefined;
  const started: Array<{ spec: ContenderSpec; running: RunningContender }> = [];
  const rows: ClientsRow[] = [];
  try {
    backends = await startChild<BackendsReady>(new URL('../backends/backends-child.js', import.meta.url), { count: 2 } satisfies BackendsArgs);
    const backendsChild = backends;
    const context: ContenderContext = {
      backendPorts: backends.ready.ports,
      tmpDir,
      profile: [],
      inteliFlags: options.inteliFlags,
      register: options.register,
      maxClientConnections: options.clients,
      clientKeepAliveTimeoutMs: HELD_KEEP_ALIVE_MS,
      registerAgents: async (credentials: AgentCredentials): Promise<void> => {
        const registered = backendsChild.next<number>('agents-registered', 20_000);
        backendsChild.send({ type: 'agents', payload: credentials });
        await registered;
      },
    };
    for (const spec of [inteliContender, nginxContender]) {
      const reason = spec.unavailable();
      if (reason !== undefined) {
        notes.push(`skipped ${spec.name}: ${reason}`);
        continue;
      }
      started.push({ spec, running: await spec.start(context) });
    }
    // Held connections first, on fresh processes: their RSS is not yet inflated by the c=N rounds.
    const held: Array<Omit<ClientsRow, 'rps' | 'p99Ms' | 'cpuPercent'>> = [];
    for (const { spec, running } of started) {
      const port = Number(new URL(running.url).port);
      if (running.pid !== undefined && openFilesLimit(running.pid) < needed) notes.push(`${spec.name}: open-files limit ${openFilesLimit(running.pid)} < ${needed}`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const rssIdleMb = rssMbOf(running.pid);
      const holder = await startChild<null>(new URL('../load/hold-connections-child.js', import.meta.url), { port, connections: options.clients } satisfies HoldArgs);
      try {
        const heldAnswer = holder.next<HoldReport>('held', HOLD_TIMEOUT_MS);
        holder.send({ type: 'open' });
        const opened = await heldAnswer;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const rssHeldMb = rssMbOf(running.pid);
        log(`${spec.name}: ${opened.open} connections held (${opened.failed} failed) in ${opened.ms.toFixed(0)} ms; RSS ${rssIdleMb.toFixed(1)} -> ${rssHeldMb.toFixed(1)} MB`);
        const activeAnswer = holder.next<HoldReport>('active-done', HOLD_TIMEOUT_MS);
        holder.send({ type: 'active' });
        const active = await activeAnswer;
        const rssActiveMb = rssMbOf(running.pid);
        const countAnswer = holder.next<HoldReport>('count', 30_000);
        holder.send({ type: 'count' });
        const still = await countAnswer;
        held.push({
          contender: spec.name,
          held: still.open,
          failed: still.failed,
          openMs: opened.ms,
          rssIdleMb,
          rssHeldMb,
          kbPerIdleConnection: ((rssHeldMb - rssIdleMb) * 1024) / Math.max(1, opened.open),
          activeMs: active.ms,
          rssActiveMb,
          kbPerActiveConnection: ((rssActiveMb - rssIdleMb) * 1024) / Math.max(1, still.open),
        });
      } finally {
        await holder.stop();
      }
    }
    // Throughput after the held connections are closed: warm both up, then interleaved rounds.
    for (const { running } of started) await measureHttp(wrkPath, `${running.url}/`, running.pid, options.clientsActive, 1);
    const throughput = new Map<string, { rps: number[]; p99Ms: number[]; cpuPercent: number[] }>();
    for (let round = 0; round < options.rounds; round += 1) {
      for (const { spec, running } of round % 2 === 0 ? started : [...started].reverse()) {
        const { result, cpuPercent } = await measureHttp(wrkPath, `${running.url}/`, running.pid, options.clientsActive, options.durationSeconds);
        const entry = throughput.get(spec.name) ?? { rps: [], p99Ms: [], cpuPercent: [] };
        entry.rps.push(result.rps);
        entry.p99Ms.push(result.p99Ms);
        entry.cpuPercent.push(cpuPercent ?? Number.NaN);
        throughput.set(spec.name, entry);
        log(`round ${round + 1}/${options.rounds} c=${options.clientsActive} ${spec.name}: ${result.rps.toFixed(0)} req/s${result.errors + result.non2xx > 0 ? ` (${result.errors} errors, ${result.non2xx} non-2xx)` : ''}`);
      }
    }
    for (const row of held) rows.push({ ...row, ...(throughput.get(row.contender) ?? { rps: [], p99Ms: [], cpuPercent: [] }) });
  } finally {
    await Promise.allSettled(started.map(({ running }) => running.stop()));
    await backends?.stop();
    rmSync(tmpDir, { recursive: true, force: true });
  }
  const lines = [
    '',
    `clients: ${options.clients} keep-alive connections held, one GET each, then one more on all at once; wrk -t1 c=${options.clientsActive}, ` +
      `${options.durationSeconds} s x ${options.rounds} rounds, medians; ${cpus().length} CPUs; 1-min load average ${loadavg()[0]!.toFixed(2)}`,
    'contender    held  failed  open s  RSS idle MB  RSS held MB  KB/conn idle  all-active s  KB/conn active   req/s c=N  p99 ms  CPU%',
  ];
  for (const r of rows) {
    lines.push(
      `${r.contender.padEnd(11)} ${String(r.held).padStart(5)} ${String(r.failed).padStart(7)} ${(r.openMs / 1000).toFixed(1).padStart(7)} ` +
        `${r.rssIdleMb.toFixed(1).padStart(12)} ${r.rssHeldMb.toFixed(1).padStart(12)} ${r.kbPerIdleConnection.toFixed(1).padStart(13)} ` +
        `${(r.activeMs / 1000).toFixed(2).padStart(13)} ${r.kbPerActiveConnection.toFixed(1).padStart(15)} ${median(r.rps).toFixed(0).padStart(11)} ` +
        `${median(r.p99Ms).toFixed(2).padStart(7)} ${median(r.cpuPercent).toFixed(0).padStart(5)}`,
    );
  }
  const inteli = rows.find((r) => r.contender === 'inteli');
  const nginx = rows.find((r) => r.contender === 'nginx');
  if (inteli !== undefined && nginx !== undefined) {
    lines.push(`inteli/nginx at c=${options.clientsActive}: ${(median(inteli.rps) / median(nginx.rps)).toFixed(2)} (req/s)`);
  }
  for (const note of notes) lines.push(`note: ${note}`);
  return { result: rows, lines };
}
