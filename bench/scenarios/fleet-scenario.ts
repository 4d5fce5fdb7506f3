/**
 * The `fleet` scenario (issue 17): revocation fan-out across a fleet of 3 proxy processes sharing one
 * Redis (redis-server started here on a loopback port, append-only as a fleet runs it). `--agents`
 * agents (default 100 here) each hold one session with every proxy; their keys are then removed one at a
 * time through the first proxy (`ProxySysAdmin.removePublicKey`), and each revocation is timed from the
 * request until the key's backend has left the registry of all three proxies (each proxy reports the
 * moment it removed the backend, on this machine's clock).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalRedis, type LocalRedis } from '../../examples/local-redis.js';
import { generateKeyPair } from '../../src/shared/identity/key-pair.js';
import { generateDevCertificate } from '../../src/shared/tls/dev-certificate.js';
import { ProxySysAdmin } from '../../src/sysadmin/proxy-sysadmin.js';
import { startChild, type ChildHandle } from '../lib/child-process.js';
import type { BenchOptions } from '../options.js';
import type { AgentFleetArgs, FleetAgent, FleetCounts } from './agent-fleet-child.js';
import type { ScaleProxyArgs, ScaleProxyReady } from './scale-proxy-child.js';

/** Proxies in the fleet. */
const PROXIES = 3;
/** First never-contacted target port. */
const FAKE_PORT_BASE = 20_000;
/** Bound on one revocation reaching every proxy. */
const REVOCATION_TIMEOUT_MS = 30_000;

type Log = (message: string) => void;

/** The figures. */
export interface FleetResult {
  readonly proxies: number;
  readonly agents: number;
  /** Milliseconds from `keys.remove` sent to the backend gone from every proxy, per revocation. */
  readonly fanOutMs: number[];
  /** Milliseconds until `keys.remove` was answered, per revocation. */
  readonly ackMs: number[];
  readonly registeredMs: number;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Runs the scenario and returns the figures and the report lines. */
export async function runFleetScenario(options: BenchOptions, log: Log): Promise<{ result: FleetResult; lines: string[] }> {
  const tmpDir = mkdtempSync(join(tmpdir(), 'inteli-bench-fleet-'));
  const total = options.agents;
  let redis: LocalRedis | undefined;
  const proxies: ChildHandle<ScaleProxyReady>[] = [];
  let fleet: ChildHandle<{ agents: number }> | undefined;
  try {
    redis = await startLocalRedis(tmpDir);
    const admin = await generateKeyPair('bench-admin');
    const tls = await generateDevCertificate();
    const setupFile = join(tmpDir, 'setup.json');
    writeFileSync(setupFile, JSON.stringify({ cert: tls.cert, key: tls.key, keys: [{ id: 'bench-admin', publicKey: admin.publicJwk, role: 'admin' }] }));
    // The first proxy seeds the admin key; the others then find it in Redis.
    for (let i = 0; i < PROXIES; i += 1) {
      const args: ScaleProxyArgs = { port: 0, controlPort: 0, setupFile, certstore: join(tmpDir, `unused-${i}`), redis: { url: redis.url, nodeId: `bench-proxy-${i}` } };
      proxies.push(await startChild<ScaleProxyReady>(new URL('./scale-proxy-child.js', import.meta.url), args, { execArgv: [...options.inteliFlags], readyTimeoutMs: 60_000 }));
    }
    const urls = proxies.map((proxy) => proxy.ready.controlUrl);
    const pin = proxies[0]!.ready.pin;
    const agents: Array<FleetAgent & { publicKey: Record<string, unknown> }> = [];
    for (let i = 0; i < total; i += 1) {
      const pair = await generateKeyPair(`bench-fleet-${i}`);
      agents.push({ id: `bench-fleet-${i}`, privateJwk: pair.privateJwk, publicKey: { ...pair.publicJwk }, rule: `/svc-${i}`, port: FAKE_PORT_BASE + i });
    }
    const sysadmin = new ProxySysAdmin({ proxyUrl: urls[0]!, adminId: 'bench-admin', key: admin.privateJwk, pin });
    await sysadmin.start();
    try {
      await sysadmin.addPublicKeys(agents.map(({ id, publicKey, rule }) => ({ id, publicKey, rules: [rule], hosts: ['127.0.0.1'] })));
      const agentsFile = join(tmpDir, 'agents.json');
      writeFileSync(agentsFile, JSON.stringify(agents.map(({ id, privateJwk, rule, port }) => ({ id, privateJwk, rule, port }))));
      fleet = await startChild<{ agents: number }>(new URL('./agent-fleet-child.js', import.meta.url), { proxyUrl: urls, pin, agentsFile } satisfies AgentFleetArgs, { readyTimeoutMs: 60_000 });
      const routed = proxies.map((proxy) => proxy.next<{ at: number }>('routed', 120_000));
      for (const proxy of proxies) proxy.send({ type: 'wait-routed', count: total });
      const startedAt = Date.now();
      const started = fleet.next<FleetCounts>('started', 120_000);
      fleet.send({ type: 'start' });
      await started;
      const registeredMs = Math.max(...(await Promise.all(routed)).map((answer) => answer.at)) - startedAt;
      log(`${total} agents registered with all ${PROXIES} proxies in ${registeredMs} ms; revoking one key at a time through the first proxy`);

      // Each proxy reports every revoked backend; a revocation is done once all three have.
      const seen = new Map<string, number[]>();
      const waiting = new Map<string, () => void>();
      for (const proxy of proxies) {
        proxy.on<{ agentId: string; at: number }>('revoked', ({ agentId, at }) => {
          const times = seen.get(agentId) ?? [];
          times.push(at);
          seen.set(agentId, times);
          if (times.length === PROXIES) waiting.get(agentId)?.();
        });
      }
      const fanOutMs: number[] = [];
      const ackMs: number[] = [];
      for (const { id } of agents) {
        const done = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`revocation of ${id} did not reach every proxy within ${REVOCATION_TIMEOUT_MS} ms`)), REVOCATION_TIMEOUT_MS);
          waiting.set(id, () => {
            clearTimeout(timer);
            resolve();
          });
        });
        const sentAt = now();
        await sysadmin.removePublicKey(id);
        ackMs.push(now() - sentAt);
        await done;
        fanOutMs.push(Math.max(...seen.get(id)!) - sentAt);
      }
      const result: FleetResult = { proxies: PROXIES, agents: total, fanOutMs, ackMs, registeredMs };
      const show = (values: readonly number[], p: number): string => percentile(values, p).toFixed(1);
      const lines = [
        '',
        `fleet: ${PROXIES} proxy processes on one Redis, ${total} agents each with a session on every proxy; ${cpus().length} CPUs; 1-min load average ${loadavg()[0]!.toFixed(2)}`,
        `  registered with all ${PROXIES} in ${registeredMs} ms`,
        `  revocation fan-out (keys.remove sent -> backend gone on all ${PROXIES}), ${fanOutMs.length} revocations: ` +
          `p50 ${show(fanOutMs, 50)} ms, p99 ${show(fanOutMs, 99)} ms, max ${show(fanOutMs, 100)} ms (promise: 1000 ms); keys.remove answered: p50 ${show(ackMs, 50)} ms, p99 ${show(ackMs, 99)} ms`,
      ];
      return { result, lines };
    } finally {
      await sysadmin.stop();
    }
  } finally {
    await fleet?.stop();
    await Promise.allSettled(proxies.map((proxy) => proxy.stop()));
    await redis?.stop();
    rmSync(tmpDir, { recursive: true, force: true });
  }
}
