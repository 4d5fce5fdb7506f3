/**
 * Issue 13, item 2: streams and the body timeout. The proxy runs with a short `bodyTimeoutMs` (300 ms)
 * standing in for the 60 s default: a server-sent-events stream quiet for four times that survives (SSE
 * has no body timeout), so does an upgraded connection, while an ordinary response whose body stops
 * mid-way is cut and counted as `cut`, never as 2xx; a route's own `bodyTimeoutMs` (registration) wins
 * over the proxy's; a client that leaves mid-body is counted as `aborted` (499).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { CUT, STATUS_CLASSES, type RouteTargetStats } from '../../../src/proxy/data-plane/traffic-stats.js';
import { startBackend, type TestBackend } from '../../helpers/data-plane-backends.js';
import { startProxy } from '../../helpers/data-plane-client.js';

const BODY_TIMEOUT_MS = 300;
/** How long the streams stay quiet: several body timeouts, so a timeout would have fired. */
const QUIET_MS = 4 * BODY_TIMEOUT_MS;

let proxy: ProxyServer;
let port: number;
const backends: TestBackend[] = [];
/** Resolves when the endless backend's response closes (the proxy aborted it after the client left). */
const endlessClosed: Promise<void>[] = [];

function pair(rule: string, agentId: string): RouteTargetStats | undefined {
  return [...proxy.dataPlane.stats.pairs()].find((item) => item.rule === rule && item.agentId === agentId);
}

function classes(stats: RouteTargetStats | undefined): Record<string, number> {
  return Object.fromEntries(STATUS_CLASSES.map((name, index) => [name, stats?.responses[index] ?? 0]));
}

/** GET through the proxy: the status, the body received, and whether the body ended cleanly. */
function fetchStream(path: string, onData?: (text: string) => void): Promise<{ status: number; body: string; complete: boolean }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        onData?.(body);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, complete: true }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body, complete: false }));
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, body, complete: false }));
    });
    req.on('error', () => resolve({ status: 0, body: '', complete: false }));
    req.end();
  });
}

beforeAll(async () => {
  ({ proxy, port } = await startProxy({ bodyTimeoutMs: BODY_TIMEOUT_MS }));
  const sse = await startBackend('sse', (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.write('data: first\n\n');
    // The stream is quiet for several body timeouts, then speaks again and ends.
    const timer = setTimeout(() => res.end('data: second\n\n'), QUIET_MS);
    res.on('close', () => clearTimeout(timer));
  });
  const stalled = await startBackend('stalled', (req, res) => {
    req.resume();
    // Announces 10 bytes, sends 4, then nothing: the body timeout must cut it.
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '10' });
    res.write('part');
  });
  const slow = await startBackend('slow', (req, res) => {
    req.resume();
    // Quiet for longer than the proxy's timeout but within the route's own (registered) one.
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('a');
    const timer = setTimeout(() => res.end('b'), QUIET_MS);
    res.on('close', () => clearTimeout(timer));
  });
  const endless = await startBackend('endless', (req, res) => {
    req.resume();
    endlessClosed.push(new Promise((resolve) => res.once('close', () => resolve())));
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.write('x'.repeat(1024));
  });
  const wsBackend = await startBackend('ws');
  const wss = new WebSocketServer({ server: wsBackend.server });
  wss.on('connection', (socket) => socket.on('message', (data) => socket.send(data)));
  backends.push(sse, stalled, slow, endless, wsBackend);
  const add = (backend: TestBackend, path: string, bodyTimeoutMs?: number): void => {
    proxy.registry.add({ agentId: backend.name, targets: [{ protocol: 'http', host: '127.0.0.1', port: backend.port }], rules: [{ path }], bodyTimeoutMs });
  };
  add(sse, '/events');
  add(stalled, '/stalled');
  add(slow, '/slow', QUIET_MS * 4);
  add(endless, '/endless');
  add(wsBackend, '/ws');
});

afterAll(async () => {
  await proxy?.stop();
  await Promise.all(backends.map((backend) => backend.close()));
});

describe('body timeout and streams', () => {
  it('keeps a quiet text/event-stream open past bodyTimeoutMs (SSE has no body timeout)', async () => {
    const response = await fetchStream('/events');
    expect(response).toEqual({ status: 200, body: 'data: first\n\ndata: second\n\n', complete: true });
    expect(classes(pair('/events', 'sse'))).toMatchObject({ '2xx': 1, cut: 0 });
  });

  it('cuts an ordinary response whose body stops, and counts it as cut, never as 2xx', async () => {
    const response = await fetchStream('/stalled');
    expect(response.status).toBe(200);
    expect(response.body).toBe('part');
    expect(response.complete).toBe(false);
    expect(classes(pair('/stalled', 'stalled'))).toMatchObject({ '2xx': 0, cut: 1 });
    expect(pair('/stalled', 'stalled')!.responses[CUT]).toBe(1);
  });

  it("applies a route's own bodyTimeoutMs from the registration over the proxy's", async () => {
    expect(await fetchStream('/slow')).toEqual({ status: 200, body: 'ab', complete: true });
    expect(classes(pair('/slow', 'slow'))).toMatchObject({ '2xx': 1, cut: 0 });
  });

  it('counts a client that leaves mid-body as aborted (499), not as 2xx', async () => {
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/endless', agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.end();
    });
    // The proxy counts the abort when it aborts the upstream request, which closes the backend's response.
    await endlessClosed[0];
    expect(classes(pair('/endless', 'endless'))).toMatchObject({ aborted: 1, '2xx': 0, cut: 0 });
  });

  it('keeps an upgraded (WebSocket) connection open while it is quiet past bodyTimeoutMs', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      });
      const echoed = (text: string): Promise<string> =>
        new Promise((resolve) => {
          socket.once('message', (data: Buffer) => resolve(data.toString()));
          socket.send(text);
        });
      expect(await echoed('before')).toBe('before');
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
      expect(socket.readyState).toBe(WebSocket.OPEN);
      expect(await echoed('after')).toBe('after');
    } finally {
      socket.close();
    }
  });
});
