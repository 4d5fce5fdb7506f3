/**
 * The cluster mode end to end: the compiled `inteli-proxy` with `PROXY_WORKERS=2` on port 0 (Node gives
 * every worker the same port), an agent in this process registering with the primary's control plane,
 * requests through the shared port reaching it from both workers, drain across workers, 403 everywhere
 * after the agent leaves, a SIGKILLed worker replaced, and SIGTERM stopping everything with exit code 0.
 * Runs `dist/` (built by `npm test` before jest; run `npm run build` first when running this alone).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import { TrustStore } from '../../../src/shared/trust/index.js';
import { generateKeyPair, type Ed25519PrivateJwk } from '../../../src/shared/identity/key-pair.js';
import { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import { send } from '../../helpers/data-plane-client.js';
import { withTimeout } from '../../helpers/control-plane-client.js';
import { waitUntil, waitUntilAsync } from '../../helpers/wait-until.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'proxy', 'cli.js');
const WAIT_MS = 10_000;

type LogLine = Readonly<Record<string, unknown>>;

/** Collects the child's JSON log lines and waits for one that matches. */
class LogWatcher {
  readonly lines: LogLine[] = [];
  readonly #waiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();

  constructor(child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        return;
      }
      this.lines.push(line);
      for (const waiter of this.#waiters) {
        if (waiter.match(line)) {
          this.#waiters.delete(waiter);
          waiter.resolve(line);
        }
      }
    });
  }

  /** The first line (already seen or still to come) that matches, within `ms`. */
  next(match: (line: LogLine) => boolean, what: string, from = 0, ms = WAIT_MS): Promise<LogLine> {
    const seen = this.lines.slice(from).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (line: LogLine) => (clearTimeout(timer), resolve(line)) };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${what}`));
      }, ms);
      this.#waiters.add(waiter);
    });
  }
}

interface Reply {
  readonly status: number;
  readonly body: string;
}

/** One request on a fresh connection (so Node's round-robin spreads them over the workers): status and body. */
async function get(port: number, urlPath: string): Promise<Reply> {
  const { status, body } = await send(port, urlPath);
  return { status, body };
}

/** Repeats `get` until the status is `status` (the workers apply a change one IPC hop after the ack). */
async function untilStatus(port: number, urlPath: string, status: number): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if ((await get(port, urlPath)).status === status) return;
    if (Date.now() > deadline) throw new Error(`${urlPath} never answered ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The cluster's per-worker request gauge from the admin listener's /metrics. */
async function workerRequests(adminPort: number): Promise<Map<string, number>> {
  const { body } = await get(adminPort, '/metrics');
  const counts = new Map<string, number>();
  for (const match of body.matchAll(/^inteli_cluster_worker_requests\{worker="(\d+)"\} (\d+)$/gm)) counts.set(match[1]!, Number(match[2]));
  return counts;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The environment of a cluster on loopback with every port 0 (the HTTP port can be given). */
function clusterEnv(overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    PROXY_WORKERS: '2',
    PROXY_HOST: '127.0.0.1',
    PROXY_PORT: '0',
    PROXY_TLS_PORT: '0',
    PROXY_WS_HOST: '127.0.0.1',
    PROXY_WS_PORT: '0',
    PROXY_ADMIN_PORT: '0',
    PROXY_TLS_CERT: path.join(dir, 'tsl', 'cert.pem'),
    PROXY_TLS_KEY: path.join(dir, 'tsl', 'key.pem'),
    PROXY_CERTSTORE: path.join(dir, 'certstore'),
    LOG_LEVEL: 'info',
    ...overrides,
  };
}

let dir: string;
let child: ChildProcess;
let logs: LogWatcher;
let exited: Promise<number | null>;
let httpPort: number;
let adminPort: number;
let controlUrl: string;
let pin: string;
let agentKey: Ed25519PrivateJwk;
const agents: ProxyWebServer[] = [];
let firstServer: http.Server;
/** What the first agent's server does; the drain test swaps it for a slow one. */
let handler: http.RequestListener = (_req, res) => res.end('from the agent');

function agent(server: http.Server): ProxyWebServer {
  const web = new ProxyWebServer({
    proxyUrl: controlUrl,
    agentId: 'CLUSTERWEB',
    key: agentKey,
    server,
    rules: ['/api'],
    pin,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    closeGraceMs: 2000,
    drainTimeoutMs: 5000,
  });
  agents.push(web);
  return web;
}

function workerPids(): number[] {
  return logs.lines.filter((line) => line.msg === 'worker forked').map((line) => line.pid as number);
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  dir = await mkdtemp(path.join(tmpdir(), 'inteli-cluster-'));
  const store = await TrustStore.open(path.join(dir, 'certstore'));
  const { privateJwk, publicJwk } = await generateKeyPair('CLUSTERWEB');
  agentKey = privateJwk;
  await store.add({ id: 'CLUSTERWEB', publicKey: publicJwk, role: 'agent', scope: { rules: ['/api'], hosts: ['127.0.0.1'] } });
  // A key that may serve /reserved but never registers: its rule is reserved in every worker.
  await store.add({ id: 'RESERVER', publicKey: (await generateKeyPair('RESERVER')).publicJwk, role: 'agent', scope: { rules: ['/reserved'] } });
  child = spawn(process.execPath, [CLI], {
    cwd: dir,
    env: clusterEnv(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  logs = new LogWatcher(child);
  const running = await logs.next((line) => typeof line.msg === 'string' && line.msg.startsWith('inteli-proxy is running'), 'the cluster to start');
  httpPort = running.http as number;
  adminPort = Number(String(running.admin).split(':').pop());
  controlUrl = `wss://127.0.0.1:${running.control as number}`;
  pin = running.pin as string;
}, 30_000);

afterAll(async () => {
  for (const web of agents) await web.stop().catch(() => undefined);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
  for (const pid of workerPids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('inteli-proxy with PROXY_WORKERS=2', () => {
  it('fix-issue-14-own-listeners-in-workers: refuses the workers\' shared data port and the admin port as targets', async () => {
    for (const port of [httpPort, adminPort]) {
      const web = new ProxyWebServer({ proxyUrl: controlUrl, agentId: 'CLUSTERWEB', key: agentKey, target: { host: '127.0.0.1', port }, rules: ['/api'], pin, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
      const error = await web.start().catch((caught: unknown) => caught);
      await web.stop().catch(() => undefined);
      expect({ port, code: (error as { code?: string }).code }).toEqual({ port, code: 'RP_ERR_OUT_OF_SCOPE' });
    }
  });

  it('forks two workers that share the same port 0 pick, HTTP and HTTPS', async () => {
    // The workers log to the shared stdout on their own; "running" can come before the second one's line.
    await waitUntil(() => logs.lines.filter((line) => line.msg === 'data plane listening').length >= 2, WAIT_MS, 'both workers to log that they listen');
    const listening = logs.lines.filter((line) => line.msg === 'data plane listening');
    expect(listening).toHaveLength(2);
    expect(new Set(listening.map((line) => line.worker)).size).toBe(2);
    expect(new Set(listening.map((line) => line.http))).toEqual(new Set([`127.0.0.1:${httpPort}`]));
    expect(new Set(listening.map((line) => line.https)).size).toBe(1);
    expect((await get(adminPort, '/healthz')).status).toBe(200);
    expect((await get(adminPort, '/readyz')).status).toBe(200);
  });

  it('routes to an agent registered with the primary from both workers as soon as start() resolves', async () => {
    firstServer = http.createServer((req, res) => handler(req, res));
    const web = agent(firstServer);
    // The ack waits until every worker applied the registration: no request may see 403 after this.
    await web.start();
    const replies = await Promise.all(Array.from({ length: 40 }, () => get(httpPort, '/api/x')));
    expect(replies.every((reply) => reply.status === 200 && reply.body === 'from the agent')).toBe(true);
    // Workers report their counters to the primary every second: wait for reports made after the burst.
    // Both served some of the 40, and the sums count all 40.
    const okCount = (body: string): number => Number(/^inteli_requests_total\{rule="\/api",backend="CLUSTERWEB",status_class="2xx"\} (\d+)$/m.exec(body)?.[1] ?? 0);
    const deadline = Date.now() + WAIT_MS;
    let counts = await workerRequests(adminPort);
    let body = (await get(adminPort, '/metrics')).body;
    while (([...counts.values()].filter((count) => count > 0).length < 2 || okCount(body) < 40) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      counts = await workerRequests(adminPort);
      body = (await get(adminPort, '/metrics')).body;
    }
    expect([...counts.values()].filter((count) => count > 0)).toHaveLength(2);
    expect(okCount(body)).toBeGreaterThanOrEqual(40);
    expect(body).toMatch(/^inteli_cluster_workers 2$/m);
    const status = JSON.parse((await get(adminPort, '/api/status')).body) as { proxy: { ready: boolean }; rules: { rule: string; readyTargets: number }[]; sessions: unknown[] };
    expect(status.proxy.ready).toBe(true);
    expect(status.rules).toEqual([expect.objectContaining({ rule: '/api', readyTargets: 1 })]);
    expect(status.sessions).toHaveLength(1);
  });

  it('drains across workers: the agent closes its server only after a request in flight on a worker finished', async () => {
    const web = agents[0]!;
    let released: (() => void) | undefined;
    let answered = false;
    const server = firstServer;
    let arrived: () => void = () => undefined;
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    handler = (req, res) => {
      // Only the first request is held; probes that still reach the agent are answered at once.
      if (req.url !== '/api/slow') {
        res.end('probe');
        return;
      }
      arrived();
      released = () => {
        answered = true;
        res.end('slow');
      };
    };
    const originalClose = server.close.bind(server);
    let answeredBeforeClose: boolean | undefined;
    let closeCalled: () => void = () => undefined;
    const closing = new Promise<void>((resolve) => (closeCalled = resolve));
    server.close = ((callback?: (error?: Error) => void) => {
      answeredBeforeClose = answered;
      closeCalled();
      return originalClose(callback);
    }) as typeof server.close;
    const slow = get(httpPort, '/api/slow');
    await inFlight;
    const mark = logs.lines.length;
    const stopped = web.stop();
    // Before releasing the response, the drain must have reached the primary and both workers: the
    // primary logs it, and then fresh connections (spread over the workers) are no longer routed to the
    // agent (403). A worker applies the draining state in the same IPC stream as the primary's idle
    // query, so by then an early "drained" would already be on its way. A premature close ends the wait.
    const drainApplied = (async () => {
      await logs.next((line) => line.msg === 'draining backend', 'the drain to reach the primary', mark);
      let refusedInARow = 0;
      await waitUntilAsync(
        async () => {
          // The only target is draining: the worker has no target for /api (403, the no-target status).
          refusedInARow = (await get(httpPort, '/api/probe')).status === 403 ? refusedInARow + 1 : 0;
          return refusedInARow >= 6;
        },
        WAIT_MS,
        'both workers to stop routing to the draining agent',
        10,
      );
    })();
    await Promise.race([closing, drainApplied]);
    expect(answeredBeforeClose).toBeUndefined();
    released!();
    expect(await slow).toEqual({ status: 200, body: 'slow' });
    await stopped;
    expect(answeredBeforeClose).toBe(true);
  });

  it('answers 403 from every worker once the agent has left', async () => {
    await untilStatus(httpPort, '/api', 403);
    const replies = await Promise.all(Array.from({ length: 20 }, () => get(httpPort, '/api')));
    expect(replies.map((reply) => reply.status)).toEqual(Array.from({ length: 20 }, () => 403));
  });

  it('SIGHUP applies a configuration file\'s live options in every worker (issue 15)', async () => {
    await writeFile(path.join(dir, 'inteli.yaml'), 'noTargetStatus: 404\n');
    const mark = logs.lines.length;
    child.kill('SIGHUP');
    await logs.next((line) => line.msg === 'configuration reloaded: noTargetStatus', 'the reload', mark);
    // Each worker logs on its own stdout stream, so its line may reach the pipe after the primary's.
    const reconfigured = (): unknown[] => logs.lines.slice(mark).filter((line) => line.msg === 'data plane reconfigured').map((line) => line.worker);
    await waitUntil(() => reconfigured().length >= 2, WAIT_MS, 'both workers to apply the reload');
    expect(reconfigured().sort()).toEqual(workerPids().sort());
    const replies = await Promise.all(Array.from({ length: 20 }, () => get(httpPort, '/api')));
    expect(replies.map((reply) => reply.status)).toEqual(Array.from({ length: 20 }, () => 404));
  });

  it('replaces a worker killed with SIGKILL; the replacement gets the registry and routes', async () => {
    const web = agent(http.createServer((_req, res) => res.end('again')));
    await web.start();
    const [victim] = workerPids();
    const mark = logs.lines.length;
    process.kill(victim!, 'SIGKILL');
    await logs.next((line) => line.msg === 'worker died: forking a replacement' && line.pid === victim, 'the death to be noticed', mark);
    const forked = await logs.next((line) => line.msg === 'worker forked', 'a replacement', mark);
    await logs.next((line) => line.msg === 'data plane listening' && line.worker === forked.pid, 'the replacement to listen', mark);
    const replies = await Promise.all(Array.from({ length: 20 }, () => get(httpPort, '/api')));
    expect(replies.every((reply) => reply.status === 200 && reply.body === 'again')).toBe(true);
    // The replacement was configured with the reloaded options, not the ones of the start.
    const unrouted = await Promise.all(Array.from({ length: 20 }, () => get(httpPort, '/nothing')));
    expect(unrouted.map((reply) => reply.status)).toEqual(Array.from({ length: 20 }, () => 404));
  });

  it('keeps cookie affinity across workers (one secret) and answers NO_TARGET for a reserved rule in every worker', async () => {
    const sticky = ['S1', 'S2'].map((name) => {
      const web = new ProxyWebServer({
        proxyUrl: controlUrl,
        agentId: 'CLUSTERWEB',
        key: agentKey,
        server: http.createServer((_req, res) => res.end(name)),
        rules: ['/api/sticky'],
        affinity: 'cookie',
        pin,
        closeGraceMs: 500,
        drainTimeoutMs: 2000,
      });
      agents.push(web);
      return web;
    });
    for (const web of sticky) await web.start();
    const first = await send(httpPort, '/api/sticky');
    const cookie = first.headers['set-cookie']![0]!.split(';')[0]!;
    // New connections, spread over both workers: each verifies the cookie with the primary's secret.
    const replies = await Promise.all(Array.from({ length: 20 }, () => send(httpPort, '/api/sticky', { headers: { cookie } })));
    expect(replies.map((reply) => reply.body)).toEqual(Array.from({ length: 20 }, () => first.body));
    expect(replies.every((reply) => reply.headers['set-cookie'] === undefined)).toBe(true);
    const reserved = await Promise.all(Array.from({ length: 10 }, () => send(httpPort, '/reserved/x')));
    // 404: the reload test above set noTargetStatus: 404 in every worker.
    expect(reserved.map((reply) => [reply.status, reply.body.includes('NO_TARGET')])).toEqual(Array.from({ length: 10 }, () => [404, true]));
    expect((await send(httpPort, '/nothing')).body).toContain('NO_ROUTE');
  });

  it('stops everything on SIGTERM with exit code 0', async () => {
    const pids = workerPids();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(logs.lines.some((line) => line.msg === 'cluster stopped')).toBe(true);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });
});

describe('inteli-proxy with PROXY_WORKERS=2 on a port already taken', () => {
  let blocker: Server | undefined;
  afterAll(async () => {
    await new Promise((resolve) => blocker?.close(resolve));
  });

  it('exits 1 with the workers\' bind error, naming the address (RP_ERR_LISTEN)', async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    const failing = spawn(process.execPath, [CLI], {
      cwd: dir,
      env: clusterEnv({ PROXY_PORT: String(taken), LOG_LEVEL: 'silent' }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    failing.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exit = new Promise<number | null>((resolve) => failing.once('exit', resolve));
    let code: number | null;
    try {
      code = await withTimeout(exit, WAIT_MS, 'inteli-proxy to exit');
    } finally {
      // Never leave the process (or its workers) behind when it did not exit by itself.
      if (failing.exitCode === null && failing.signalCode === null) {
        failing.kill('SIGKILL');
        await exit;
      }
    }
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(`inteli-proxy: HTTP listener could not bind 127.0.0.1:${taken}: address already in use (RP_ERR_LISTEN)`);
  });
});

describe('inteli-proxy with PROXY_WORKERS=2 when the primary is killed', () => {
  it('leaves no worker behind holding the port', async () => {
    const primary = spawn(process.execPath, [CLI], { cwd: dir, env: clusterEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    const primaryExited = new Promise((resolve) => primary.once('exit', resolve));
    const watcher = new LogWatcher(primary);
    const workers = (): number[] => watcher.lines.filter((line) => line.msg === 'worker forked').map((line) => line.pid as number);
    let orphans: number[] = [];
    let running: LogLine = {};
    try {
      running = await watcher.next((line) => typeof line.msg === 'string' && line.msg.startsWith('inteli-proxy is running'), 'the cluster to start');
      const pids = workers();
      expect(pids).toHaveLength(2);
      primary.kill('SIGKILL');
      await primaryExited;
      // Workers notice the lost primary through their IPC channel; no event reaches this process.
      await waitUntil(() => !pids.some(alive), WAIT_MS, 'the workers to exit after their primary').catch(() => undefined);
      orphans = pids.filter(alive);
    } finally {
      // Whatever failed above, nothing started here outlives the test.
      if (primary.exitCode === null && primary.signalCode === null) {
        primary.kill('SIGKILL');
        await primaryExited;
      }
      for (const pid of workers().filter(alive)) process.kill(pid, 'SIGKILL');
    }
    expect(orphans).toEqual([]);
    // The port is free again.
    const probe = createServer();
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(running.http as number, '127.0.0.1', resolve));
    await new Promise((resolve) => probe.close(resolve));
  });
});
