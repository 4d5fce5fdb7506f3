/**
 * Smoke run of `npm run bench` itself in its quick mode (autocannon only, direct + inteli, one short round),
 * so the script cannot rot. It needs neither wrk nor nginx nor HAProxy. The numbers are not asserted: this
 * machine's load is unknown, and the test only checks that the bench runs end to end and reports. The
 * `storm` scenario (which runs the `agents` one first) gets a tiny run of its own: 6 agents.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const outDir = mkdtempSync(join(tmpdir(), 'inteli-bench-smoke-'));
/** A tsc build plus a run: slow on a loaded 2-core machine, so the bounds are generous. */
const BENCH_KILL_MS = 100_000;
let run: { code: number | null; stdout: string; stderr: string };
let storm: { code: number | null; stdout: string; stderr: string };
let bench: ChildProcess | undefined;

beforeAll(async () => {
  run = await runBench(['--quick', '--out', outDir]);
  storm = await runBench(['--scenario', 'storm', '--quick', '--agents', '6', '--out', join(outDir, 'storm')]);
}, 2 * BENCH_KILL_MS + 20_000);

afterAll(() => {
  killGroup();
  rmSync(outDir, { recursive: true, force: true });
});

/** Kills the bench and everything it started (its own process group), if still running. */
function killGroup(): void {
  if (bench?.pid === undefined || bench.exitCode !== null || bench.signalCode !== null) return;
  try {
    process.kill(-bench.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/**
 * Runs `npm run bench -- <args>` in its own process group, so that a run killed at the bound takes the
 * contenders and load generators it spawned with it.
 */
function runBench(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', 'bench', '--', ...args], { cwd: process.cwd(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    bench = child;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      stderr += `\nkilled after ${BENCH_KILL_MS} ms`;
      killGroup();
    }, BENCH_KILL_MS);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('npm run bench --quick', () => {
  it('prints the table and ends with the inteli ratio line', () => {
    const { code, stdout, stderr } = run;
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^contender\s+c\s+req\/s\s+p50 ms\s+p99 ms\s+CPU%\s+us\/req\s+RSS MB\s+\/direct\s+\/nginx$/m);
    expect(stdout).toMatch(/^direct\s+50\s+\d+/m);
    expect(stdout).toMatch(/^inteli\s+50\s+\d+/m);
    const lines = stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/^inteli\/direct=\d+\.\d\d inteli\/nginx=n\/a inteli\/http-proxy=n\/a$/);
  });

  it('writes the results as JSON', () => {
    const files = readdirSync(outDir).filter((file) => file.endsWith('.json'));
    expect(files).toHaveLength(1);
    const result = JSON.parse(readFileSync(join(outDir, files[0]!), 'utf8')) as { rows: { contender: string }[] };
    expect(result.rows.map((row) => row.contender)).toEqual(['direct', 'inteli']);
  });
});

describe('npm run bench -- --scenario storm --quick --agents 6', () => {
  it('registers the agents, restarts the proxy and reports every figure of both scenarios', () => {
    const { code, stdout, stderr } = storm;
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^agents: 6 agents in 2 processes on one proxy process/m);
    expect(stdout).toMatch(/^ {2}key import \(ProxySysAdmin\.addPublicKeys\): 6\/6 added in \d+ ms$/m);
    expect(stdout).toMatch(/^ {2}first start, all at once: all routed in \d+ ms; start\(\) rejected: 0;/m);
    expect(stdout).toMatch(/^ {2}memory after GC: RSS [\d.]+ -> [\d.]+ MB/m);
    expect(stdout).toMatch(/^ {2}throughput c=50 on \/, .* \(ratio [\d.]+, goal 1\.00\); proxy CPU per request [\d.]+ vs [\d.]+ us$/m);
    expect(stdout).toMatch(/^ {2}storm: proxy down \d+ ms .* every route back \d+ ms after it listened .* gave up: 0;/m);
    const files = readdirSync(join(outDir, 'storm')).filter((file) => file.startsWith('scenario-storm-') && file.endsWith('.json'));
    expect(files).toHaveLength(1);
  });
});
