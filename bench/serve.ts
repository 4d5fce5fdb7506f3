/**
 * Starts the backends and the named contenders and keeps them running, printing each one's URL and pid,
 * for manual load tests and profiling (`node dist/bench-build/bench/serve.js inteli nginx`; Ctrl-C stops
 * everything). Same processes and configs as `npm run bench`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackendsArgs, BackendsReady } from './backends/backends-child.js';
import type { RunningContender } from './contenders/contender.js';
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
import { DEFAULT_REGISTRATION_MODE } from './contenders/register-backends.js';
import { startChild } from './lib/child-process.js';

const SPECS = [directContender, inteliContender, inteliScaleContender, inteliClusterContender, undiciContender, httpProxyKeepAliveContender, httpProxyContender, nginxContender, haproxyContender];

async function main(): Promise<void> {
  const names = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  const profile = process.argv.includes('--profile') ? names : [];
  const tmpDir = mkdtempSync(join(tmpdir(), 'inteli-bench-serve-'));
  const backends = await startChild<BackendsReady>(new URL('./backends/backends-child.js', import.meta.url), { count: 2 } satisfies BackendsArgs);
  console.log(`backends pid=${backends.pid} ports=${backends.ready.ports.join(',')}`);
  const running: RunningContender[] = [];
  for (const spec of SPECS.filter((s) => names.includes(s.name))) {
    const started = await spec.start({
      backendPorts: backends.ready.ports,
      tmpDir,
      profileDir: profile.length > 0 ? tmpDir : undefined,
      profile,
      register: process.argv.includes('--registry') ? 'registry' : DEFAULT_REGISTRATION_MODE,
      registerAgents: async (credentials) => {
        const registered = backends.next<number>('agents-registered', 20_000);
        backends.send({ type: 'agents', payload: credentials });
        await registered;
      },
    });
    running.push(started);
    console.log(`${spec.name} pid=${started.pid ?? '-'} url=${started.url}${spec.path}`);
  }
  console.log(profile.length > 0 ? `profiles will be written to ${tmpDir} on Ctrl-C (kept)` : 'Ctrl-C stops everything');
  process.once('SIGINT', () => {
    void Promise.allSettled(running.map((r) => r.stop()))
      .then(() => backends.stop())
      .finally(() => {
        if (profile.length === 0) rmSync(tmpDir, { recursive: true, force: true });
        process.exit(0);
      });
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
