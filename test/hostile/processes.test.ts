/**
 * Faults that need real processes: a backend process killed with SIGKILL under load, an agent process
 * frozen with SIGSTOP, and 2,000 WebSocket tunnels through a proxy process whose file descriptors and
 * memory are read afterwards. The children run the compiled sources (see hostile-processes.ts).
 */
import { describe, it, expect, beforeAll, afterEach } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { startCluster, type HostileCluster } from '../helpers/hostile-cluster.js';
import { startLoad } from '../helpers/hostile-load.js';
import { expectServing } from '../helpers/hostile-raw.js';
import { ensureChildBuild, forkFixture, killChild, nextMessage } from '../helpers/hostile-processes.js';
import { SOAK_FACTOR, note, tally, useTally } from '../helpers/hostile-tally.js';
import { withTimeout } from '../helpers/control-plane-client.js';
import { waitUntilAsync } from '../helpers/wait-until.js';
import type { TestKey } from '../helpers/control-plane-fixture.js';
import type { Backend, RemovalReason } from '../../src/proxy/registry/backend.js';

useTally();

const HEARTBEAT_MS = 200;
const MISSED_PONGS = 2;
/**
 * Eviction bound: heartbeatIntervalMs x (missedPongs + 1), plus generous slack for a loaded 2-core
 * machine (wall time between processes cannot be put on a test clock). Without the heartbeat a frozen
 * agent would stay registered for good, so the bound still tells the heartbeat apart from nothing.
 */
const EVICTION_BOUND_MS = HEARTBEAT_MS * (MISSED_PONGS + 1) + 5000;

let cluster: HostileCluster | undefined;
const children: ChildProcess[] = [];

beforeAll(() => {
  ensureChildBuild();
}, 60_000);

afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGCONT');
    await killChild(child);
  }
  await cluster?.close();
  cluster = undefined;
});

async function agentChild(c: HostileCluster, key: TestKey, rules: string[], delayMs: number): Promise<ChildProcess> {
  const child = forkFixture('agent-child.mjs', [JSON.stringify({ proxyUrl: c.url, ca: c.cert.cert, agentId: key.id, privateJwk: key.privateJwk, rules, delayMs })]);
  children.push(child);
  await nextMessage<{ port?: number }>(child, (message) => typeof message.port === 'number', 20_000, 'the agent child to register');
  return child;
}

/** Resolves when `agentId`'s backend is removed: when (performance.now()) and why. */
function removal(c: HostileCluster, agentId: string): Promise<{ at: number; reason: RemovalReason }> {
  let listener: ((backend: Backend, reason: RemovalReason) => void) | undefined;
  return withTimeout(
    new Promise<{ at: number; reason: RemovalReason }>((resolve) => {
      listener = (backend, reason) => {
        if (backend.agentId === agentId) resolve({ at: performance.now(), reason });
      };
      c.proxy.on('backend_removed', listener);
    }),
    20_000,
    `${agentId} to be removed`,
  ).finally(() => {
    if (listener !== undefined) c.proxy.off('backend_removed', listener);
  });
}

describe('backend processes die', () => {
  it('SIGKILL of a backend process under load: at most the requests in flight to it fail, and it is evicted within the heartbeat bound', async () => {
    const c = (cluster = await startCluster({ control: { heartbeatIntervalMs: HEARTBEAT_MS, missedPongs: MISSED_PONGS } }));
    await c.startAgent(await c.addKey('stable', ['/kill']), ['/kill']);
    const child = await agentChild(c, await c.addKey('victim', ['/kill']), ['/kill'], 20);
    const concurrency = 6;
    const load = startLoad({ port: c.port, path: '/kill/x', budget: 20_000, concurrency, deadlineMs: 20_000 });
    await load.answered(200, 10_000, 'load to flow');
    const evicted = removal(c, 'victim');
    const victimId = c.proxy.registry.list().find((backend) => backend.agentId === 'victim')?.id ?? '';
    const inFlightAtKill = c.proxy.dataPlane.inFlight(victimId);
    const killedAt = performance.now();
    child.kill('SIGKILL');
    const { at: evictedAt } = await evicted;
    await load.answered(load.result.answered + 200, 10_000, '200 more answers after the eviction');
    const result = await load.stop();
    const failed = result.non2xx + result.lost;
    note(`SIGKILL of a backend under load (${concurrency} clients): ${failed} request(s) failed of ${result.sent} (${inFlightAtKill} in flight to it at the kill), evicted after ${Math.round(evictedAt - killedAt)} ms`);
    expect(evictedAt - killedAt).toBeLessThan(EVICTION_BOUND_MS);
    // Only the requests in flight to the victim when it died may fail; nothing sent later does.
    expect(failed).toBeLessThanOrEqual(inFlightAtKill);
    expect(result.lost).toBe(0);
    await expectServing(c.port, '/kill/x');
  }, 40_000);

  it('SIGSTOP of an agent process: evicted by the heartbeat (heartbeatIntervalMs x (missedPongs + 1), plus slack)', async () => {
    const c = (cluster = await startCluster({ control: { heartbeatIntervalMs: HEARTBEAT_MS, missedPongs: MISSED_PONGS } }));
    await c.startAgent(await c.addKey('awake', ['/frozen']), ['/frozen']);
    const child = await agentChild(c, await c.addKey('frozen', ['/frozen']), ['/frozen'], 0);
    const evicted = removal(c, 'frozen');
    const stoppedAt = performance.now();
    child.kill('SIGSTOP');
    const { at: evictedAt, reason } = await evicted;
    note(`SIGSTOP of an agent: evicted after ${Math.round(evictedAt - stoppedAt)} ms (bound ${HEARTBEAT_MS} x (${MISSED_PONGS} + 1) = ${HEARTBEAT_MS * (MISSED_PONGS + 1)} ms)`);
    // Evicted by the heartbeat (a missed-pong timeout), not by a closed connection.
    expect(reason).toBe('timeout');
    expect(evictedAt - stoppedAt).toBeLessThan(EVICTION_BOUND_MS);
    expect(c.proxy.registry.list().map((backend) => backend.agentId)).toEqual(['awake']);
    for (let i = 0; i < 5; i += 1) await expectServing(c.port, '/frozen/x');
  }, 30_000);
});

describe('WebSocket tunnels leave nothing behind', () => {
  it('2,000 upgraded connections aborted from either side: no extra file descriptors, memory back near the baseline', async () => {
    const echo = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => echo.once('listening', () => resolve()));
    echo.on('connection', (ws) => {
      ws.on('error', () => undefined);
      ws.on('message', (data) => {
        if (data.toString() === 'die') ws.terminate();
        else ws.send(data);
      });
    });
    const proxyChild = forkFixture('proxy-child.mjs', [], ['--expose-gc']);
    children.push(proxyChild);
    try {
      const { port } = await nextMessage<{ type: string; port: number }>(proxyChild, (message) => message.type === 'listening', 20_000, 'proxy child');
      proxyChild.send({ type: 'register', port: (echo.address() as AddressInfo).port, path: '/ws' });
      await nextMessage<{ type: string }>(proxyChild, (message) => message.type === 'registered');
      type Probe = { type: string; fds: number; rss: number; heapUsed: number; tunnels: number; inFlight: number };
      const probe = async (): Promise<Probe> => {
        proxyChild.send({ type: 'probe' });
        return nextMessage<Probe>(proxyChild, (message) => message.type === 'probe');
      };
      const batch = async (size: number): Promise<number> => {
        let answered = 0;
        await Promise.all(
          Array.from({ length: size }, async (_, index) => {
            const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
            ws.on('error', () => undefined);
            const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
            const opened = await Promise.race([new Promise<boolean>((resolve) => ws.once('open', () => resolve(true))), closed.then(() => false)]);
            if (opened) {
              answered += 1;
              if (index % 2 === 0) ws.terminate();
              else ws.send('die');
            }
            await closed;
          }),
        );
        tally({ sent: size, answered, lost: size - answered });
        return answered;
      };
      await batch(20);
      const waitIdle = async (): Promise<Probe> => {
        let state = await probe();
        await waitUntilAsync(
          async () => {
            state = await probe();
            return state.tunnels === 0 && state.inFlight === 0;
          },
          10_000,
          'the proxy child to hold no tunnel and no request',
        );
        return state;
      };
      const baseline = await waitIdle();
      let opened = 0;
      for (let round = 0; round < 20 * SOAK_FACTOR; round += 1) opened += await batch(100);
      expect(opened).toBe(2000 * SOAK_FACTOR);
      const after = await waitIdle();
      note(`WebSocket: ${opened} tunnels opened and aborted; proxy fds ${baseline.fds} -> ${after.fds}, RSS ${Math.round(baseline.rss / 1048576)} -> ${Math.round(after.rss / 1048576)} MiB, heap ${Math.round(baseline.heapUsed / 1048576)} -> ${Math.round(after.heapUsed / 1048576)} MiB`);
      expect(after.fds).toBeLessThanOrEqual(baseline.fds + 4);
      // The live heap returns to the baseline; RSS keeps some allocator slack (about 30 MiB, the same
      // after 2,000 or 20,000 tunnels, so not a leak), hence the generous bound.
      expect(after.heapUsed).toBeLessThan(baseline.heapUsed + 8 * 1024 * 1024);
      expect(after.rss).toBeLessThan(baseline.rss + 64 * 1024 * 1024);
      // Still serving: one more tunnel echoes.
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      let echoed = '';
      try {
        echoed = await withTimeout(
          new Promise<string>((resolve, reject) => {
            ws.once('open', () => ws.send('ping'));
            ws.once('message', (data) => resolve(data.toString()));
            ws.once('error', reject);
          }),
          10_000,
          'the echo through a fresh tunnel',
        );
      } finally {
        ws.terminate();
        tally({ sent: 1, answered: echoed === '' ? 0 : 1, lost: echoed === '' ? 1 : 0 });
      }
      expect(echoed).toBe('ping');
    } finally {
      await new Promise<void>((resolve) => echo.close(() => resolve()));
      for (const client of echo.clients) client.terminate();
    }
  }, 60_000 * SOAK_FACTOR);
});


describe('aborted HTTP exchanges leave nothing behind', () => {
  it('1,000 downloads and 1,000 uploads aborted by the client: no extra file descriptors in the proxy process', async () => {
    let upstreamOpen = 0;
    /** Waiters for an exchange (by its x-abort-id) to reach the backend. */
    const arrivals = new Map<string, () => void>();
    const backend = http.createServer((req, res) => {
      upstreamOpen += 1;
      arrivals.get(String(req.headers['x-abort-id']))?.();
      res.on('close', () => {
        upstreamOpen -= 1;
      });
      if (req.method === 'GET') {
        res.writeHead(200);
        const timer = setInterval(() => res.write(Buffer.alloc(8192, 0x61)), 2);
        res.on('close', () => clearInterval(timer));
      } else {
        req.on('data', () => undefined);
      }
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const proxyChild = forkFixture('proxy-child.mjs', [JSON.stringify({ upstreamKeepAliveTimeoutMs: 200 })], ['--expose-gc']);
    children.push(proxyChild);
    try {
      const { port } = await nextMessage<{ type: string; port: number }>(proxyChild, (message) => message.type === 'listening', 20_000, 'proxy child');
      proxyChild.send({ type: 'register', port: (backend.address() as AddressInfo).port, path: '/stream' });
      await nextMessage<{ type: string }>(proxyChild, (message) => message.type === 'registered');
      type Probe = { type: string; fds: number; rss: number; heapUsed: number; tunnels: number; inFlight: number };
      const probe = async (): Promise<Probe> => {
        proxyChild.send({ type: 'probe' });
        return nextMessage<Probe>(proxyChild, (message) => message.type === 'probe');
      };
      let nextId = 0;
      /**
       * One exchange aborted by the client: a download once its first bytes arrived, an upload once it
       * reached the backend. Resolves true when the proxy took it that far (the response head arrived, or
       * the upload was forwarded), false when it never did within 10 s.
       */
      const abortOne = (upload: boolean): Promise<boolean> => {
        nextId += 1;
        const id = String(nextId);
        return new Promise((resolve) => {
          let taken = false;
          const req = http.request({ host: '127.0.0.1', port, path: '/stream/x', method: upload ? 'POST' : 'GET', agent: false, headers: { 'x-abort-id': id, ...(upload ? { 'transfer-encoding': 'chunked' } : {}) } }, (res) => {
            if (!upload) taken = true;
            res.once('data', () => req.destroy());
            res.on('error', () => undefined);
          });
          const guard = setTimeout(() => req.destroy(), 10_000);
          req.on('error', () => undefined);
          req.on('close', () => {
            clearTimeout(guard);
            arrivals.delete(id);
            resolve(taken);
          });
          if (upload) {
            arrivals.set(id, () => {
              taken = true;
              req.destroy();
            });
            req.write(Buffer.alloc(16_384, 0x62));
          } else {
            req.end();
          }
        });
      };
      const baseline = await probe();
      let answered = 0;
      for (let round = 0; round < 20 * SOAK_FACTOR; round += 1) {
        const results = await Promise.all(Array.from({ length: 100 }, (_, index) => abortOne(index % 2 === 1)));
        answered += results.filter(Boolean).length;
      }
      tally({ sent: 2000 * SOAK_FACTOR, answered, lost: 2000 * SOAK_FACTOR - answered });
      // Every download got its head and every upload reached the backend before its abort.
      expect(answered).toBe(2000 * SOAK_FACTOR);
      // Pooled upstream connections idle out after 200 ms; wait until the proxy holds no more than before.
      let after = await probe();
      const deadline = Date.now() + 5000;
      while ((after.fds > baseline.fds || after.inFlight > 0 || upstreamOpen > 0) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = await probe();
      }
      note(`HTTP aborts: ${2000 * SOAK_FACTOR} downloads/uploads aborted by the client; proxy fds ${baseline.fds} -> ${after.fds}, heap ${Math.round(baseline.heapUsed / 1048576)} -> ${Math.round(after.heapUsed / 1048576)} MiB, upstream requests left open ${upstreamOpen}`);
      expect(after.inFlight).toBe(0);
      expect(upstreamOpen).toBe(0);
      expect(after.fds).toBeLessThanOrEqual(baseline.fds);
      expect(after.heapUsed).toBeLessThan(baseline.heapUsed + 8 * 1024 * 1024);
    } finally {
      backend.closeAllConnections();
      await new Promise<void>((resolve) => backend.close(() => resolve()));
    }
  }, 60_000 * SOAK_FACTOR);
});
