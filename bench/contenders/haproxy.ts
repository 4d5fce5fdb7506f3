/**
 * HAProxy as a peer: one thread, round-robin, keep-alive and connection reuse to the backends. The config
 * is generated into the bench's temp dir and HAProxy runs in the foreground (`-db`) as our child.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../lib/free-port.js';
import { which } from '../lib/which.js';
import type { ContenderContext, ContenderSpec, RunningContender } from './contender.js';
import { stopProcess, waitForPort } from './native-process.js';

/** Renders the HAProxy configuration. */
export function haproxyConfig(port: number, backendPorts: readonly number[]): string {
  const servers = backendPorts.map((p, i) => `  server s${i} 127.0.0.1:${p}`).join('\n');
  return `global
  nbthread 1
  # Each connection needs two descriptors (client and server); stay under common ulimits.
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout tunnel 120s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  balance roundrobin
${servers}
`;
}

/** The HAProxy contender. */
export const haproxyContender: ContenderSpec = {
  name: 'haproxy',
  websocket: true,
  path: '/',
  unavailable: () => (which('haproxy') === undefined ? 'haproxy not installed (apt-get install haproxy)' : undefined),
  async start(context: ContenderContext): Promise<RunningContender> {
    const dir = join(context.tmpDir, 'haproxy');
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const configPath = join(dir, 'haproxy.cfg');
    writeFileSync(configPath, haproxyConfig(port, context.backendPorts));
    const logPath = join(dir, 'haproxy.log');
    const child = spawn(which('haproxy')!, ['-db', '-f', configPath], { stdio: ['ignore', 'ignore', openSync(logPath, 'w')] });
    await waitForPort(child, port, logPath);
    return {
      url: `http://127.0.0.1:${port}`,
      pid: child.pid,
      note: 'haproxy: nbthread 1, http-reuse always',
      stop: () => stopProcess(child, 'SIGTERM'),
    };
  },
};
