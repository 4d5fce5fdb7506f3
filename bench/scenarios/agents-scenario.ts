/**
 * The `agents` and `storm` scenarios (issue 17, with the figures of issue 18): many agents registered on
 * one proxy process over real WSS with real tokens, and that proxy restarted under them.
 *
 * Processes: the proxy (scale-proxy-child, file trust store as `npm start` runs it), the two hello-world
 * backends, one agent child with the two agents that route `/` to them, and `--agent-processes` children
 * sharing the `--agents` agents (each with its own rule and never-contacted target). Steps:
 * 1. bulk import of the agents' keys with `ProxySysAdmin.addPublicKeys` (issue 18's import figure);
 * 2. baseline with 2 agents: proxy memory after a GC, idle CPU over two heartbeat rounds, throughput;
 * 3. every agent started at once (the first-start storm): time until all are routed, `start()` outcomes
 *    and retries by reason, proxy refusals;
 * 4. the same figures with all agents: memory per session, CPU per heartbeat round, throughput;
 * 5. `storm` only: the proxy process stopped and started again on the same ports and key store; time
 *    from its listening until every route is back, refusals on the way, agents that gave up.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/shared/identity/key-pair.js';
import { generateDevCertificate } from '../../src/shared/tls/dev-certificate.js';
import { ProxySysAdmin } from '../../src/sysadmin/proxy-sysadmin.js';
import type { BackendsArgs, BackendsReady } from '../backends/backends-child.js';
import { startChild, type ChildHandle } from '../lib/child-process.js';
import { freePort } from '../lib/free-port.js';
import { cpuSeconds, processTree } from '../lib/process-stats.js';
import { which } from '../lib/which.js';
import { measureHttp } from '../measure.js';
import type { BenchOptions } from '../options.js';
import type { AgentFleetArgs, FleetAgent, FleetCounts } from './agent-fleet-child.js';
import type { ScaleProxyArgs, ScaleProxyReady, ScaleProxyStats } from './scale-proxy-child.js';
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from '../../src/proxy/control-plane/control-plane-options.js';

/** First never-contacted target port of the agents (below the ephemeral range, like inteli-10k's). */
const FAKE_PORT_BASE = 20_000;
/** Bound on waiting for every route, per phase. */
const ROUTED_TIMEOUT_MS = 180_000;

type Log = (message: string) => void;

/** Everything the scenario measured; written to the results JSON. */
export interface AgentsResult {
  readonly agents: number;
  readonly agentProcesses: number;
  readonly import: { keys: number; added: number; ms: number };
  readonly baseline: { rssMb: number; heapMb: number; idleCpuMsPerRound: number; rps: number[]; usPerRequest: number[] };
  readonly firstStart: {
    routedMs: number | undefined;
    startFailed: number;
    retries: Record<string, number>;
    refused: Record<string, number>;
    /** CPU seconds of the proxy and of the agents' processes until every route was there. */
    proxyCpuS: number;
    agentsCpuS: number;
  };
  readonly loaded: {
    rssMb: number;
    heapMb: number;
    rssKbPerSession: number;
    heapKbPerSession: number;
    cpuMsPerRound: number;
    cpuMsPerRoundAboveBaseline: number;
    rps: number[];
    usPerRequest: number[];
  };
  readonly storm?: {
    downMs: number;
    keysLoadMs: number;
    routedAfterListenMs: number | undefined;
    routedAfterStopMs: number | undefined;
    refused: Record<string, number>;
    retries: Record<string, number>;
    gaveUp: number;
    proxyCpuS: number;
    agentsCpuS: number;
    rssMb: number;
  };
}

interface ProxyProcess {
  readonly child: ChildHandle<ScaleProxyReady>;
  stats(gc?: boolean): Promise<ScaleProxyStats>;
  waitRouted(count: number, timeoutMs: number): Promise<number | undefined>;
}

/** CPU seconds used so far by these processes (and their children). */
function cpuOf(pids: readonly number[]): number {
  return cpuSeconds(pids.flatMap((pid) => processTree(pid))) ?? Number.NaN;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)]!;
}

function sumCounts(records: ReadonlyArray<Readonly<Record<string, number>>>): Record<string, number> {
  const total: Record<string, number> = {};
  for (const record of records) for (const [key, value] of Object.entries(record)) total[key] = (total[key] ?? 0) + value;
  return total;
}

function diffCounts(after: Readonly<Record<string, number>>, before: Readonly<Record<string, number>>): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) if (value - (before[key] ?? 0) !== 0) result[key] = value - (before[key] ?? 0);
  return result;
}

async function startProxy(args: ScaleProxyArgs, execArgv: readonly string[]): Promise<ProxyProcess> {
  const child = await startChild<ScaleProxyReady>(new URL('./scale-proxy-child.js', import.meta.url), args, { execArgv: [...execArgv, '--expose-gc'], readyTimeoutMs: 60_000 });
  return {
    child,
    stats: async (gc = false) => {
      const answer = child.next<ScaleProxyStats>('stats', 30_000);
      child.send({ type: 'stats', gc });
      return answer;
    },
    waitRouted: async (count, timeoutMs) => {
      const answer = child.next<{ at: number }>('routed', timeoutMs);
      child.send({ type: 'wait-routed', count });
      try {
        return (await answer).at;
      } catch {
        return undefined;
      }
    },
  };
}

async function fleetCounts(fleets: readonly ChildHandle<{ agents: number }>[]): Promise<FleetCounts[]> {
  return Promise.all(
    fleets.map(async (fleet) => {
      const answer = fleet.next<FleetCounts>('counts', 30_000);
      fleet.send({ type: 'counts' });
      return answer;
    }),
  );
}

/** Idle CPU of the proxy over `rounds` heartbeat intervals, in ms per round. */
async function idleCpuPerRound(proxy: ProxyProcess, rounds: number): Promise<number> {
  const before = await proxy.stats();
  await new Promise((resolve) => setTimeout(resolve, rounds * DEFAULT_HEARTBEAT_INTERVAL_MS));
  const after = await proxy.stats();
  return (after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs) / 1000 / rounds;
}

/** A proxy to load: its data-plane URL and process. */
interface LoadTarget {
  readonly label: string;
  readonly url: string;
  readonly pid: number;
}

/**
 * Throughput at c=50 of each target, interleaved over the rounds (rotating who goes first), so that a
 * change in the machine's load hits both alike. Returns req/s per round, per target, in order.
 */
async function throughput(wrkPath: string | undefined, targets: readonly LoadTarget[], options: BenchOptions, log: Log): Promise<{ rps: number[][]; usPerRequest: number[][] }> {
  const rps: number[][] = targets.map(() => []);
  const usPerRequest: number[][] = targets.map(() => []);
  for (let round = 0; round < options.rounds; round += 1) {
    for (let step = 0; step < targets.length; step += 1) {
      const index = (step + round) % targets.length;
      const target = targets[index]!;
      const { result, cpuPercent } = await measureHttp(wrkPath, target.url, target.pid, 50, options.durationSeconds);
      rps[index]!.push(result.rps);
      // Proxy CPU time per request: steadier than req/s on a shared machine.
      usPerRequest[index]!.push(cpuPercent === undefined || result.rps === 0 ? Number.NaN : (cpuPercent * 10_000) / result.rps);
      log(`${target.label} round ${round + 1}/${options.rounds}: ${result.rps.toFixed(0)} req/s${result.non2xx + result.errors > 0 ? ` (${result.non2xx} non-2xx, ${result.errors} errors)` : ''}`);
    }
  }
  return { rps, usPerRequest };
}

/** Runs `agents` (and, with `storm`, the restart) and returns the figures and the report lines. */
export async function runAgentsScenario(options: BenchOptions, log: Log): Promise<{ result: AgentsResult; lines: string[] }> {
  const storm = options.scenario === 'storm';
  const tmpDir = mkdtempSync(join(tmpdir(), 'inteli-bench-agents-'));
  const wrkPath = options.tool === 'autocannon' ? undefined : which('wrk');
  const total = options.agents;
  // Two heartbeat rounds; a smoke run (--quick) only checks that the figure comes out.
  const heartbeatRounds = options.quick ? 0.2 : 2;
  let backends: ChildHandle<BackendsReady> | undefined;
  let proxy: ProxyProcess | undefined;
  let reference: ProxyProcess | undefined;
  const fleets: ChildHandle<{ agents: number }>[] = [];
  try {
    backends = await startChild<BackendsReady>(new URL('../backends/backends-child.js', import.meta.url), { count: 2 } satisfies BackendsArgs);
    const backendPorts = backends.ready.ports;
    log(`generating ${total + 3} keys`);
    const admin = await generateKeyPair('bench-admin');
    const makeAgent = async (id: string, rule: string, port: number): Promise<FleetAgent & { publicKey: Record<string, unknown> }> => {
      const pair = await generateKeyPair(id);
      return { id, privateJwk: pair.privateJwk, publicKey: { ...pair.publicJwk }, rule, port };
    };
    const base = await Promise.all(backendPorts.map((port, index) => makeAgent(`bench-base-${index}`, '/', port)));
    const many: Array<FleetAgent & { publicKey: Record<string, unknown> }> = [];
    for (let i = 0; i < total; i += 1) many.push(await makeAgent(`bench-agent-${i}`, `/svc-${i}`, FAKE_PORT_BASE + i));
    const tls = await generateDevCertificate();
    const setupFile = join(tmpDir, 'setup.json');
    writeFileSync(
      setupFile,
      JSON.stringify({
        cert: tls.cert,
        key: tls.key,
        keys: [
          { id: 'bench-admin', publicKey: admin.publicJwk, role: 'admin' },
          ...base.map(({ id, publicKey, rule }) => ({ id, publicKey, scope: { rules: [rule], hosts: ['127.0.0.1'] } })),
        ],
      }),
    );
    const proxyArgs: ScaleProxyArgs = { port: await freePort(), controlPort: await freePort(), setupFile, certstore: join(tmpDir, 'certstore') };
    proxy = await startProxy(proxyArgs, options.inteliFlags);
    const { controlUrl, pin } = proxy.child.ready;
    const dataUrl = `http://127.0.0.1:${proxy.child.ready.port}/`;

    // 1. The agents' keys, imported as an operator would (issue 18: 1,000 keys in under 5 s).
    const sysadmin = new ProxySysAdmin({ proxyUrl: controlUrl, adminId: 'bench-admin', key: admin.privateJwk, pin });
    await sysadmin.start();
    const importStarted = performance.now();
    const imported = await sysadmin.addPublicKeys(many.map(({ id, publicKey, rule }) => ({ id, publicKey, rules: [rule], hosts: ['127.0.0.1'] })));
    const importMs = performance.now() - importStarted;
    await sysadmin.stop();
    const added = imported.filter((entry) => entry.status === 'added').length;
    log(`imported ${added}/${total} keys in ${importMs.toFixed(0)} ms`);

    // 2. Baseline: the two agents that route `/`.
    const writeAgents = (name: string, agents: readonly FleetAgent[]): string => {
      const file = join(tmpDir, name);
      writeFileSync(file, JSON.stringify(agents.map(({ id, privateJwk, rule, port }) => ({ id, privateJwk, rule, port }))));
      return file;
    };
    const startFleet = async (file: string): Promise<ChildHandle<{ agents: number }>> => {
      const fleet = await startChild<{ agents: number }>(new URL('./agent-fleet-child.js', import.meta.url), { proxyUrl: controlUrl, pin, agentsFile: file } satisfies AgentFleetArgs, { readyTimeoutMs: 60_000 });
      fleets.push(fleet);
      return fleet;
    };
    const baseFleet = await startFleet(writeAgents('base.json', base));
    const baseStarted = baseFleet.next<FleetCounts>('started', 60_000);
    baseFleet.send({ type: 'start' });
    await baseStarted;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = await proxy.stats(true);
    log(`baseline: RSS ${(before.rssBytes / 2 ** 20).toFixed(1)} MB, heap ${(before.heapUsedBytes / 2 ** 20).toFixed(1)} MB; idle CPU over ${heartbeatRounds} heartbeat round(s)`);
    const idleBase = await idleCpuPerRound(proxy, heartbeatRounds);
    // The throughput reference: the same proxy with only the 2 agents, in its own process, measured
    // interleaved with the one that gets every agent.
    reference = await startProxy({ ...proxyArgs, port: 0, controlPort: 0, certstore: join(tmpDir, 'certstore-reference') }, options.inteliFlags);
    const referenceFleet = await startChild<{ agents: number }>(
      new URL('./agent-fleet-child.js', import.meta.url),
      { proxyUrl: reference.child.ready.controlUrl, pin: reference.child.ready.pin, agentsFile: join(tmpDir, 'base.json') } satisfies AgentFleetArgs,
      { readyTimeoutMs: 60_000 },
    );
    fleets.push(referenceFleet);
    const referenceStarted = referenceFleet.next<FleetCounts>('started', 60_000);
    referenceFleet.send({ type: 'start' });
    await referenceStarted;
    const targets: LoadTarget[] = [
      { label: '2 agents (reference proxy)', url: `http://127.0.0.1:${reference.child.ready.port}/`, pid: reference.child.pid },
      { label: `${total + 2} agents`, url: dataUrl, pid: proxy.child.pid },
    ];
    if (options.warmupSeconds > 0) for (const target of targets) await measureHttp(wrkPath, target.url, target.pid, 50, Math.max(1, Math.ceil(options.warmupSeconds)));

    // 3. Every agent at once.
    const per = Math.ceil(total / options.agentProcesses);
    const shares = Array.from({ length: options.agentProcesses }, (_, index) => many.slice(index * per, (index + 1) * per)).filter((share) => share.length > 0);
    const manyFleets = await Promise.all(shares.map((share, index) => startFleet(writeAgents(`fleet-${index}.json`, share))));
    log(`starting ${total} agents at once in ${manyFleets.length} processes`);
    const startedAnswers = manyFleets.map((fleet) => fleet.next<FleetCounts>('started', ROUTED_TIMEOUT_MS));
    const refusedBefore = (await proxy.stats()).upgradesRefused;
    const routedWait = proxy.waitRouted(total + base.length, ROUTED_TIMEOUT_MS);
    const fleetPids = manyFleets.map((fleet) => fleet.pid);
    const cpuBefore = { proxy: cpuOf([proxy.child.pid]), agents: cpuOf(fleetPids) };
    const firstStartAt = Date.now();
    for (const fleet of manyFleets) fleet.send({ type: 'start' });
    const routedAt = await routedWait;
    const cpuRouted = { proxy: cpuOf([proxy.child.pid]), agents: cpuOf(fleetPids) };
    const started = await Promise.all(startedAnswers);
    const firstStats = await proxy.stats();
    const firstStart = {
      routedMs: routedAt === undefined ? undefined : routedAt - firstStartAt,
      startFailed: started.reduce((sum, counts) => sum + counts.startFailed, 0),
      retries: sumCounts(started.map((counts) => counts.retries)),
      refused: diffCounts(firstStats.upgradesRefused, refusedBefore),
      proxyCpuS: cpuRouted.proxy - cpuBefore.proxy,
      agentsCpuS: cpuRouted.agents - cpuBefore.agents,
    };
    log(`first start: ${routedAt === undefined ? `NOT all routed (${firstStats.backends})` : `all routed in ${firstStart.routedMs} ms`}; refused ${JSON.stringify(firstStart.refused)}`);

    // 4. The same figures with every agent connected.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const loadedStats = await proxy.stats(true);
    const sessions = loadedStats.sessions - before.sessions;
    const idleLoaded = await idleCpuPerRound(proxy, heartbeatRounds);
    const measured = await throughput(wrkPath, targets, options, log);
    const [rpsBase, rpsLoaded] = measured.rps as [number[], number[]];
    const [usBase, usLoaded] = measured.usPerRequest as [number[], number[]];
    const loaded = {
      rssMb: loadedStats.rssBytes / 2 ** 20,
      heapMb: loadedStats.heapUsedBytes / 2 ** 20,
      rssKbPerSession: (loadedStats.rssBytes - before.rssBytes) / 1024 / Math.max(1, sessions),
      heapKbPerSession: (loadedStats.heapUsedBytes - before.heapUsedBytes) / 1024 / Math.max(1, sessions),
      cpuMsPerRound: idleLoaded,
      cpuMsPerRoundAboveBaseline: idleLoaded - idleBase,
      rps: rpsLoaded,
      usPerRequest: usLoaded,
    };

    // 5. The restart storm.
    let stormResult: AgentsResult['storm'];
    if (storm) {
      const countsBefore = await fleetCounts(manyFleets);
      const agentsCpuBefore = cpuOf(fleetPids);
      const stopAt = Date.now();
      log('restarting the proxy process');
      await proxy.child.stop();
      const downAt = Date.now();
      proxy = await startProxy(proxyArgs, options.inteliFlags);
      const listeningAt = proxy.child.ready.listeningAt;
      const backAt = await proxy.waitRouted(total + base.length, ROUTED_TIMEOUT_MS);
      const proxyCpuS = cpuOf([proxy.child.pid]);
      const agentsCpuS = cpuOf(fleetPids) - agentsCpuBefore;
      const stats = await proxy.stats();
      const countsAfter = await fleetCounts(manyFleets);
      stormResult = {
        downMs: listeningAt - downAt,
        keysLoadMs: proxy.child.ready.keysMs,
        routedAfterListenMs: backAt === undefined ? undefined : backAt - listeningAt,
        routedAfterStopMs: backAt === undefined ? undefined : backAt - stopAt,
        refused: { ...stats.upgradesRefused },
        retries: diffCounts(sumCounts(countsAfter.map((c) => c.retries)), sumCounts(countsBefore.map((c) => c.retries))),
        gaveUp: countsAfter.reduce((sum, counts) => sum + counts.notRunning, 0),
        rssMb: stats.rssBytes / 2 ** 20,
        proxyCpuS,
        agentsCpuS,
      };
      log(`storm: ${backAt === undefined ? `NOT all back (${stats.backends})` : `all back ${stormResult.routedAfterListenMs} ms after listening`}; refused ${JSON.stringify(stormResult.refused)}`);
    }

    const result: AgentsResult = {
      agents: total,
      agentProcesses: manyFleets.length,
      import: { keys: total, added, ms: importMs },
      baseline: { rssMb: before.rssBytes / 2 ** 20, heapMb: before.heapUsedBytes / 2 ** 20, idleCpuMsPerRound: idleBase, rps: rpsBase, usPerRequest: usBase },
      firstStart,
      loaded,
      ...(stormResult === undefined ? {} : { storm: stormResult }),
    };
    return { result, lines: formatAgents(result, options) };
  } finally {
    await Promise.allSettled(fleets.map((fleet) => fleet.stop()));
    await proxy?.child.stop();
    await reference?.child.stop();
    await backends?.stop();
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

function show(value: number | undefined, digits = 0): string {
  return value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits);
}

function counts(record: Readonly<Record<string, number>>): string {
  const entries = Object.entries(record);
  return entries.length === 0 ? 'none' : entries.map(([key, value]) => `${key} ${value}`).join(', ');
}

function formatAgents(r: AgentsResult, options: BenchOptions): string[] {
  const lines = [
    '',
    `agents: ${r.agents} agents in ${r.agentProcesses} processes on one proxy process, pinned WSS, default limits and backoff; ` +
      `${cpus().length} CPUs; 1-min load average ${loadavg()[0]!.toFixed(2)}`,
    `  key import (ProxySysAdmin.addPublicKeys): ${r.import.added}/${r.import.keys} added in ${show(r.import.ms)} ms`,
    `  first start, all at once: ${r.firstStart.routedMs === undefined ? 'NOT all routed' : `all routed in ${r.firstStart.routedMs} ms`}; ` +
      `start() rejected: ${r.firstStart.startFailed}; agents' retries: ${counts(r.firstStart.retries)}; proxy refusals: ${counts(r.firstStart.refused)}; ` +
      `CPU meanwhile: proxy ${show(r.firstStart.proxyCpuS, 1)} s, agents ${show(r.firstStart.agentsCpuS, 1)} s`,
    `  memory after GC: RSS ${show(r.baseline.rssMb, 1)} -> ${show(r.loaded.rssMb, 1)} MB (${show(r.loaded.rssKbPerSession, 1)} KB/session), ` +
      `heap ${show(r.baseline.heapMb, 1)} -> ${show(r.loaded.heapMb, 1)} MB (${show(r.loaded.heapKbPerSession, 1)} KB/session)`,
    `  idle CPU per heartbeat round (${DEFAULT_HEARTBEAT_INTERVAL_MS} ms): ${show(r.baseline.idleCpuMsPerRound, 1)} ms with 2 agents, ` +
      `${show(r.loaded.cpuMsPerRound, 1)} ms with ${r.agents + 2} (${show((r.loaded.cpuMsPerRoundAboveBaseline * 1000) / r.agents, 1)} us per session)`,
    `  throughput c=50 on /, ${options.durationSeconds} s x ${options.rounds} interleaved, median: ${show(median(r.baseline.rps))} req/s with 2 agents (reference process), ` +
      `${show(median(r.loaded.rps))} with ${r.agents + 2} (ratio ${show(median(r.loaded.rps) / median(r.baseline.rps), 2)}, goal 1.00); ` +
      `proxy CPU per request ${show(median(r.baseline.usPerRequest), 1)} vs ${show(median(r.loaded.usPerRequest), 1)} us`,
  ];
  if (r.storm !== undefined) {
    const s = r.storm;
    lines.push(
      `  storm: proxy down ${s.downMs} ms (store opened and proxy started in ${show(s.keysLoadMs)} ms); every route back ${show(s.routedAfterListenMs)} ms after it listened ` +
        `(${show(s.routedAfterStopMs)} ms after the stop; goal <= 10000); proxy refusals: ${counts(s.refused)}; agents' retries: ${counts(s.retries)}; gave up: ${s.gaveUp}; ` +
        `CPU: new proxy ${show(s.proxyCpuS, 1)} s (start included), agents ${show(s.agentsCpuS, 1)} s`,
    );
  }
  return lines;
}
