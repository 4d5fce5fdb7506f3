/**
 * `npm run bench`: inteli-proxy side by side with direct, a bare undici forwarder, http-proxy, nginx and
 * HAProxy on this machine. Every participant runs in its own process; contenders are measured one after
 * the other, interleaved over rounds (rotating the order), and the table shows medians.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BackendsArgs, BackendsReady } from './backends/backends-child.js';
import type { ContenderSpec, RunningContender } from './contenders/contender.js';
import type { AgentCredentials } from './contenders/register-backends.js';
import { haproxyContender } from './contenders/haproxy.js';
import { nginxContender } from './contenders/nginx.js';
import {
  directContender,
  httpProxyContender,
  httpProxyKeepAliveContender,
  inteliContender,
  inteliClusterContender,
  inteliScaleContender,
  undiciContender,
} from './contenders/node-contenders.js';
import { startChild, type ChildHandle } from './lib/child-process.js';
import type { TailObservation } from './lib/tail-observer.js';
import { which } from './lib/which.js';
import { formatH2Table, H2_CLIENTS, H2_STREAMS_PER_CLIENT, type H2Row, runH2Scenario } from './h2-scenario.js';
import { measureHttp, measureWs } from './measure.js';
import { parseOptions, USAGE, type BenchOptions } from './options.js';
import { summarizeProfiles } from './profile-summary.js';
import { runScenario } from './scenarios/run-scenario.js';
import { soak, type SoakResult } from './soak.js';
import {
  formatHttpTable,
  formatWsTable,
  headline,
  httpRows,
  lastLine,
  wsRows,
  type HttpSample,
  type WsSample,
} from './report.js';

const SPECS: readonly ContenderSpec[] = [
  directContender,
  inteliContender,
  inteliScaleContender,
  inteliClusterContender,
  undiciContender,
  httpProxyKeepAliveContender,
  httpProxyContender,
  nginxContender,
  haproxyContender,
];
const BACKEND_COUNT = 2;

interface Started {
  readonly spec: ContenderSpec;
  readonly running: RunningContender;
}

function urlOf(s: Started): string {
  return `${s.running.url}${s.spec.path}`;
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** Rotates `items` by `by` so that no contender is always measured first or last. */
function rotate<T>(items: readonly T[], by: number): T[] {
  if (items.length === 0) return [];
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

async function main(): Promise<void> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
    return;
  }
  if (process.argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  if (options.scenario === 'agents' || options.scenario === 'storm' || options.scenario === 'clients' || options.scenario === 'fleet') {
    await runScenario(options, log);
    return;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = resolve(options.outDir ?? join(process.cwd(), 'bench', 'results'));
  mkdirSync(outDir, { recursive: true });
  const profileDir = options.profile.length > 0 ? join(outDir, `profiles-${stamp}`) : undefined;
  const tmpDir = mkdtempSync(join(tmpdir(), 'inteli-bench-'));
  const wrkPath = options.tool === 'autocannon' ? undefined : which('wrk');
  if (options.tool === 'wrk' && wrkPath === undefined) throw new Error('--tool wrk: wrk is not installed (apt-get install wrk)');
  const toolName = wrkPath === undefined ? 'autocannon' : 'wrk -t1';
  const loadAtStart = loadavg()[0]!;
  const notes: string[] = [];
  if (options.inteliFlags.length > 0) notes.push(`inteli processes run with ${options.inteliFlags.join(' ')}`);
  const skipped: string[] = [];
  if (wrkPath === undefined && options.tool === 'auto') skipped.push('wrk: not installed (apt-get install wrk); load from autocannon');
  if (wrkPath === undefined) notes.push('autocannon latencies have 1 ms resolution (p50/p99 of 0 or 1 mean "under a millisecond")');

  let backends: ChildHandle<BackendsReady> | undefined;
  const started: Started[] = [];
  const observeFile = options.observeTail ? join(tmpDir, 'inteli-tail.json') : undefined;
  let tail: TailObservation | undefined;
  const cleanup = async (): Promise<void> => {
    await Promise.allSettled(started.map((s) => s.running.stop()));
    // The inteli child writes its GC and event-loop observations when it stops.
    if (observeFile !== undefined && existsSync(observeFile)) tail = JSON.parse(readFileSync(observeFile, 'utf8')) as TailObservation;
    await backends?.stop();
    rmSync(tmpDir, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const httpSamples: HttpSample[] = [];
  const wsSamples: WsSample[] = [];
  let soakResult: SoakResult | undefined;
  let h2Rows: H2Row[] = [];
  try {
    backends = await startChild<BackendsReady>(new URL('./backends/backends-child.js', import.meta.url), {
      count: BACKEND_COUNT,
    } satisfies BackendsArgs);
    const backendsChild = backends;
    const context = {
      backendPorts: backends.ready.ports,
      tmpDir,
      profileDir,
      profile: options.profile,
      inteliFlags: options.inteliFlags,
      register: options.register,
      observeFile,
      registerAgents: async (credentials: AgentCredentials): Promise<void> => {
        const registered = backendsChild.next<number>('agents-registered', 20_000);
        backendsChild.send({ type: 'agents', payload: credentials });
        await registered;
      },
    };
    for (const spec of SPECS) {
      if (!options.contenders.includes(spec.name)) continue;
      const reason = spec.unavailable();
      if (reason !== undefined) {
        skipped.push(`${spec.name}: ${reason}`);
        continue;
      }
      try {
        const running = await spec.start(context);
        started.push({ spec, running });
        if (running.note !== undefined) notes.push(running.note);
        log(`started ${spec.name} at ${running.url}`);
      } catch (error) {
        skipped.push(`${spec.name}: failed to start (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
      }
    }
    const maxConnections = Math.max(...options.connections);
    if (options.warmupSeconds > 0 && options.http) {
      for (const s of started) await measureHttp(wrkPath, urlOf(s), s.running.pid, maxConnections, Math.max(1, Math.ceil(options.warmupSeconds)));
    }
    for (let round = 0; round < options.rounds; round += 1) {
      for (const connections of options.http ? options.connections : []) {
        for (const s of rotate(started, round)) {
          const { result, cpuPercent, rssMb } = await measureHttp(wrkPath, urlOf(s), s.running.pid, connections, options.durationSeconds);
          httpSamples.push({ contender: s.spec.name, connections, round, load: result, cpuPercent, rssMb });
          log(`round ${round + 1}/${options.rounds} c=${connections} ${s.spec.name}: ${result.rps.toFixed(0)} req/s`);
        }
      }
      if (options.websocket) {
        for (const s of rotate(started.filter((x) => x.spec.websocket), round)) {
          try {
            const { result, cpuPercent, rssMb } = await measureWs(s.running.url, s.running.pid, options.wsConnections, options.durationSeconds);
            wsSamples.push({ contender: s.spec.name, round, ...result, cpuPercent, rssMb });
            log(`round ${round + 1}/${options.rounds} ws ${s.spec.name}: ${result.messagesPerSecond.toFixed(0)} msg/s`);
          } catch (error) {
            log(`ws ${s.spec.name} failed: ${error instanceof Error ? error.message : String(error)}`);
          }
        }
      }
    }
    if (options.h2) {
      log('h2 scenario: h2load against inteli-h2 and nginx-h2');
      const h2 = await runH2Scenario({ tmpDir, backendPorts: backends.ready.ports, rounds: options.rounds, seconds: options.durationSeconds, inteliFlags: options.inteliFlags, log });
      h2Rows = h2.rows;
      skipped.push(...h2.skipped);
    }
    const inteli = started.find((s) => s.spec.name === 'inteli');
    if (options.soakSeconds > 0 && inteli !== undefined && inteli.running.pid !== undefined) {
      log(`soak: inteli at c=${maxConnections} for ${options.soakSeconds} s`);
      soakResult = await soak(wrkPath, urlOf(inteli), inteli.running.pid, maxConnections, options.soakSeconds);
    }
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const order = SPECS.map((spec) => spec.name);
  const rows = httpRows(httpSamples, order, options.connections);
  const ws = wsRows(wsSamples, order);
  const head = headline(rows);
  const profileSummary = profileDir === undefined ? undefined : summarizeProfiles(profileDir);

  const lines: string[] = [];
  lines.push('');
  lines.push(
    `${options.http ? `HTTP: ${toolName}, ` : ''}${options.durationSeconds} s x ${options.rounds} round(s), medians; ` +
      `${BACKEND_COUNT} Node backends; ${cpus().length} CPUs; Node ${process.version}; ` +
      `1-min load average ${loadAtStart.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end`,
  );
  if (options.http) lines.push(formatHttpTable(rows));
  if (ws.length > 0) {
    lines.push('');
    lines.push(`WebSocket echo: ${options.wsConnections} connections, 64-byte messages, ${options.durationSeconds} s x ${options.rounds} round(s), medians`);
    lines.push(formatWsTable(ws));
  }
  if (h2Rows.length > 0) {
    lines.push('');
    lines.push(`HTTP/2: h2load -t1 -c${H2_CLIENTS} -m${H2_STREAMS_PER_CLIENT} over TLS (h2), ${options.durationSeconds} s x ${options.rounds} round(s), medians; HTTP/1.1 keep-alive upstreams`);
    lines.push(formatH2Table(h2Rows));
  }
  lines.push('');
  for (const note of notes) lines.push(`note: ${note}`);
  for (const skip of skipped) lines.push(`skipped: ${skip}`);
  const c1 = rows.filter((r) => r.connections === 1);
  const p99Gap = (c1.find((r) => r.contender === 'inteli')?.p99Ms ?? Number.NaN) - (c1.find((r) => r.contender === 'direct')?.p99Ms ?? Number.NaN);
  const p99GapNginx = (c1.find((r) => r.contender === 'inteli')?.p99Ms ?? Number.NaN) - (c1.find((r) => r.contender === 'nginx')?.p99Ms ?? Number.NaN);
  const wsNginx = (() => {
    const inteli = ws.find((r) => r.contender === 'inteli')?.messagesPerSecond;
    const nginx = ws.find((r) => r.contender === 'nginx')?.messagesPerSecond;
    return inteli === undefined || nginx === undefined ? undefined : inteli / nginx;
  })();
  const show = (value: number | undefined): string => (value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(2));
  if (!options.http) lines.push(`goal: ws inteli/nginx=${show(wsNginx)} (>=0.8)`);
  else lines.push(
    `goals (c=${head.connections}): inteli/nginx=${show(head.nginx)} (>=0.65)  inteli/http-proxy-ka=${show(head.httpProxy)} (>=2)  ` +
      `inteli/undici-bare=${show(head.undici)} (>=0.95)  inteli-x2/nginx=${show(head.clusterNginx)} (>=1)  inteli-10k/inteli=${show(head.scale)} (~1.00)  ` +
      `c=1 p99 inteli-direct=${show(p99Gap)} ms (<=1)  c=1 p99 inteli-nginx=${show(p99GapNginx)} ms (<=0.5)  ws inteli/nginx=${show(wsNginx)} (>=0.8)`,
  );
  if (soakResult !== undefined) {
    const r = soakResult;
    lines.push(
      `memory: inteli RSS over ${r.seconds} s at c=${r.connections} (${r.rps.toFixed(0)} req/s): ` +
        `first quarter ${r.earlyMb.toFixed(1)} MB, last quarter ${r.lateMb.toFixed(1)} MB, max ${r.maxMb.toFixed(1)} MB`,
    );
  }
  if (tail !== undefined) lines.push(...formatTail(tail));
  if (profileSummary !== undefined) {
    lines.push('');
    lines.push(profileSummary);
  }
  const resultPath = join(outDir, `bench-${stamp}.json`);
  writeFileSync(
    resultPath,
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadAverage: [loadAtStart, loadavg()[0]], tool: toolName, options, rows, websocket: ws, h2: h2Rows, headline: head, soak: soakResult, tail, notes, skipped, samples: httpSamples, wsSamples }, null, 2)}\n`,
  );
  lines.push(`results: ${resultPath}`);
  lines.push(lastLine(head));
  console.log(lines.join('\n'));
}

/** The `tail` scenario's observations of the inteli process, under the table. */
function formatTail(tail: TailObservation): string[] {
  const lines = [`tail: inside inteli over ${tail.seconds.toFixed(0)} s (its own rounds and the others' idle time):`];
  for (const [kind, g] of Object.entries(tail.gc)) {
    lines.push(`  GC ${kind}: ${g.count} pauses, ${g.totalMs.toFixed(1)} ms in total, max ${g.maxMs.toFixed(2)} ms, ${g.over1Ms} over 1 ms`);
  }
  const d = tail.eventLoopDelayMs;
  lines.push(`  event-loop delay beyond the 5 ms sampling: p50 ${d.p50.toFixed(2)} ms, p99 ${d.p99.toFixed(2)} ms, max ${d.max.toFixed(2)} ms`);
  return lines;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
