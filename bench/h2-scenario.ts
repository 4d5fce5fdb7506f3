/**
 * The HTTP/2 scenario of `npm run bench`: h2load against inteli-proxy's h2 listener and against nginx's
 * (`listen ssl http2`), both with HTTP/1.1 keep-alive upstreams to the same backends, interleaved over
 * the rounds; medians reported. Skipped (and said so) without h2load or nginx.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateDevCertificate } from '../src/shared/tls/dev-certificate.js';
import type { ForwarderArgs, ForwarderReady } from './contenders/forwarder-args.js';
import { stopProcess, waitForPort } from './contenders/native-process.js';
import { nginxConfig } from './contenders/nginx.js';
import { startChild } from './lib/child-process.js';
import { freePort } from './lib/free-port.js';
import { startCpuMeter } from './lib/process-stats.js';
import { which } from './lib/which.js';
import { type H2LoadResult, runH2load } from './load/h2load.js';

/** Concurrent streams per h2load client. */
export const H2_STREAMS_PER_CLIENT = 10;
/** h2load clients (connections). */
export const H2_CLIENTS = 10;

/** One row of the h2 table. */
export interface H2Row {
  readonly contender: string;
  readonly rps: number;
  readonly meanMs: number;
  readonly maxMs: number;
  readonly failed: number;
  readonly cpuPercent: number | undefined;
}

interface H2Contender {
  readonly name: string;
  readonly url: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

async function startNginxH2(tmpDir: string, backendPorts: readonly number[]): Promise<H2Contender> {
  const dir = join(tmpDir, 'nginx-h2');
  mkdirSync(dir, { recursive: true });
  const pair = await generateDevCertificate();
  writeFileSync(join(dir, 'cert.pem'), pair.cert);
  writeFileSync(join(dir, 'key.pem'), pair.key, { mode: 0o600 });
  const port = await freePort();
  // The HTTP/1.1 configuration with its listener turned into TLS + h2 (nginx 1.22 syntax).
  const config = nginxConfig(dir, port, backendPorts).replace(
    `listen 127.0.0.1:${port};`,
    `listen 127.0.0.1:${port} ssl http2;\n    ssl_certificate ${join(dir, 'cert.pem')};\n    ssl_certificate_key ${join(dir, 'key.pem')};\n    http2_max_concurrent_streams 128;`,
  );
  const configPath = join(dir, 'nginx.conf');
  writeFileSync(configPath, config);
  const child = spawn(which('nginx')!, ['-e', join(dir, 'error.log'), '-p', dir, '-c', configPath], { stdio: ['ignore', 'ignore', openSync(join(dir, 'stderr.log'), 'w')] });
  await waitForPort(child, port, join(dir, 'error.log'));
  return { name: 'nginx-h2', url: `https://127.0.0.1:${port}/`, pid: child.pid, stop: () => stopProcess(child, 'SIGQUIT') };
}

async function startInteliH2(backendPorts: number[], execArgv: readonly string[]): Promise<H2Contender> {
  const child = await startChild<ForwarderReady>(new URL('./contenders/inteli-h2-child.js', import.meta.url), { backendPorts } satisfies ForwarderArgs, {
    execArgv: [...execArgv],
    readyTimeoutMs: 60_000,
  });
  return { name: 'inteli-h2', url: `https://127.0.0.1:${child.ready.port}/`, pid: child.pid, stop: () => child.stop() };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor((sorted.length - 1) / 2)] as number);
}

/** Runs the scenario; returns the rows and what was skipped. */
export async function runH2Scenario(options: {
  readonly tmpDir: string;
  readonly backendPorts: number[];
  readonly rounds: number;
  readonly seconds: number;
  readonly inteliFlags: readonly string[];
  readonly log: (message: string) => void;
}): Promise<{ rows: H2Row[]; skipped: string[] }> {
  const h2load = which('h2load');
  if (h2load === undefined) return { rows: [], skipped: ['h2 scenario: h2load not installed (apt-get install nghttp2-client)'] };
  const skipped: string[] = [];
  const contenders: H2Contender[] = [];
  try {
    contenders.push(await startInteliH2(options.backendPorts, options.inteliFlags));
    if (which('nginx') === undefined) skipped.push('nginx-h2: nginx not installed');
    else {
      try {
        contenders.push(await startNginxH2(options.tmpDir, options.backendPorts));
      } catch (error) {
        skipped.push(`nginx-h2: failed to start (${error instanceof Error ? error.message.split('\n')[0] : String(error)}; needs http_v2)`);
      }
    }
    const samples = new Map<string, { result: H2LoadResult; cpu: number | undefined }[]>();
    for (let round = 0; round < options.rounds; round += 1) {
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const contender of order) {
        const meter = startCpuMeter(contender.pid);
        const result = await runH2load(h2load, contender.url, H2_CLIENTS, H2_STREAMS_PER_CLIENT, options.seconds);
        const { cpuPercent } = meter.stop();
        options.log(`h2 round ${round + 1}/${options.rounds} ${contender.name}: ${result.rps.toFixed(0)} req/s`);
        const list = samples.get(contender.name) ?? [];
        list.push({ result, cpu: cpuPercent });
        samples.set(contender.name, list);
      }
    }
    const rows = contenders.map((contender) => {
      const list = samples.get(contender.name) ?? [];
      const cpus = list.map((sample) => sample.cpu).filter((cpu): cpu is number => cpu !== undefined);
      return {
        contender: contender.name,
        rps: median(list.map((sample) => sample.result.rps)),
        meanMs: median(list.map((sample) => sample.result.meanMs)),
        maxMs: median(list.map((sample) => sample.result.maxMs)),
        failed: list.reduce((sum, sample) => sum + sample.result.failed, 0),
        cpuPercent: cpus.length === 0 ? undefined : median(cpus),
      };
    });
    return { rows, skipped };
  } finally {
    await Promise.allSettled(contenders.map((contender) => contender.stop()));
  }
}

/** The h2 table. */
export function formatH2Table(rows: readonly H2Row[]): string {
  const nginx = rows.find((row) => row.contender === 'nginx-h2')?.rps;
  const lines = ['contender    req/s  mean ms  max ms  failed  CPU%  /nginx-h2'];
  for (const row of rows) {
    const ratio = nginx === undefined ? 'n/a' : (row.rps / nginx).toFixed(2);
    const cpu = row.cpuPercent === undefined ? '-' : row.cpuPercent.toFixed(0);
    lines.push(`${row.contender.padEnd(10)} ${row.rps.toFixed(0).padStart(7)} ${row.meanMs.toFixed(2).padStart(8)} ${row.maxMs.toFixed(1).padStart(7)} ${String(row.failed).padStart(7)} ${cpu.padStart(5)} ${ratio.padStart(10)}`);
  }
  return lines.join('\n');
}
