/**
 * nginx as a peer: one worker, a keep-alive upstream to the backends, WebSocket upgrades passed through,
 * no access log. The config is generated into the bench's temp dir; nginx runs in the foreground
 * (`daemon off`) as our child and is stopped with SIGQUIT/SIGTERM at the end.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../lib/free-port.js';
import { which } from '../lib/which.js';
import type { ContenderContext, ContenderSpec, RunningContender } from './contender.js';
import { stopProcess, waitForPort } from './native-process.js';

/** Renders the nginx configuration. */
export function nginxConfig(dir: string, port: number, backendPorts: readonly number[], maxClientConnections = DEFAULT_MAX_CLIENT_CONNECTIONS): string {
  const servers = backendPorts.map((p) => `    server 127.0.0.1:${p};`).join('\n');
  // Every client connection may hold an upstream one too, plus the keepalive pool and some slack.
  const workerConnections = Math.max(4096, 2 * maxClientConnections + 512);
  return `worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections ${workerConnections}; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  keepalive_requests 1000000;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream backends {
${servers}
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 120s;
    }
  }
}
`;
}

/** Client connections nginx is sized for unless the context says otherwise. */
const DEFAULT_MAX_CLIENT_CONNECTIONS = 2_000;

/** The nginx contender. */
export const nginxContender: ContenderSpec = {
  name: 'nginx',
  websocket: true,
  path: '/',
  unavailable: () => (which('nginx') === undefined ? 'nginx not installed (apt-get install nginx-light)' : undefined),
  async start(context: ContenderContext): Promise<RunningContender> {
    const dir = join(context.tmpDir, 'nginx');
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const configPath = join(dir, 'nginx.conf');
    writeFileSync(configPath, nginxConfig(dir, port, context.backendPorts, context.maxClientConnections));
    const child = spawn(which('nginx')!, ['-e', join(dir, 'error.log'), '-p', dir, '-c', configPath], {
      stdio: ['ignore', 'ignore', openSync(join(dir, 'stderr.log'), 'w')],
    });
    await waitForPort(child, port, join(dir, 'error.log'));
    return {
      url: `http://127.0.0.1:${port}`,
      pid: child.pid,
      note: 'nginx: 1 worker, upstream keepalive 128',
      stop: () => stopProcess(child, 'SIGQUIT'),
    };
  },
};
