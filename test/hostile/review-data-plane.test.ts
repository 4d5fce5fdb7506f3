/**
 * The data-plane attacks of the outside security review (issue 14), replayed against the fixes:
 * forwarding loops (plain requests and upgrades) between two proxies, a tunnel storm on one target, and
 * spoofed client-identity headers. Each case counts as a review attack in the summary.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { readdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { ProxyServer } from '../../src/proxy/proxy-server.js';
import { startBackend, type TestBackend } from '../helpers/data-plane-backends.js';
import { register, send, startProxy } from '../helpers/data-plane-client.js';
import { startScriptedBackend, type ScriptedBackend } from '../helpers/hostile-backends.js';
import { expectServing, openSocket, rawExchange, readUntilClose } from '../helpers/hostile-raw.js';
import { attack, tallyOne, useTally } from '../helpers/hostile-tally.js';

useTally();

const UPGRADE = (path: string): string =>
  `GET ${path} HTTP/1.1\r\nHost: loop.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

/** Resolves once `condition` holds, checking on every timer tick; rejects after `ms`. */
async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

let a: ProxyServer;
let b: ProxyServer;
let c: ProxyServer;
let portA: number;
let portB: number;
let portC: number;
let echo: TestBackend;
let holder: ScriptedBackend;

beforeAll(async () => {
  echo = await startBackend('echo', (req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ headers: req.headers }));
    });
  });
  // Accepts every upgrade and holds the tunnel open until the client goes.
  holder = await startScriptedBackend((socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  });
  ({ proxy: a, port: portA } = await startProxy({ responseTimeoutMs: 5000 }));
  ({ proxy: b, port: portB } = await startProxy({ responseTimeoutMs: 5000 }));
  ({ proxy: c, port: portC } = await startProxy({ responseTimeoutMs: 5000, maxTunnelsPerTarget: 3 }));
  // The loop: A routes /loop to B, and B routes /loop back to A. Neither target is the proxy's own
  // listener, so only the Via mark can stop it.
  a.registry.add({ agentId: 'to-b', targets: [{ protocol: 'http', host: '127.0.0.1', port: portB }], rules: [{ path: '/loop' }] });
  b.registry.add({ agentId: 'to-a', targets: [{ protocol: 'http', host: '127.0.0.1', port: portA }], rules: [{ path: '/loop' }] });
  register(a, echo, ['/api']);
  register(c, echo, ['/api']);
  c.registry.add({ agentId: 'holder', targets: [{ protocol: 'http', host: '127.0.0.1', port: holder.port }], rules: [{ path: '/ws' }] });
});

afterAll(async () => {
  await a.stop();
  await b.stop();
  await c.stop();
  await echo.close();
  await holder.close();
});

describe('issue 14: forwarding loops', () => {
  it('fix-issue-14-forwarding-loop: a plain request going round A -> B -> A is answered 508 at once', async () => {
    await attack('plain loop', async () => {
      const response = await send(portA, '/loop/x');
      tallyOne(true);
      expect(response.status).toBe(508);
      expect(JSON.parse(response.body)).toMatchObject({ error: 'LOOP_DETECTED' });
      // A saw its own Via entry coming back from B; B relayed A's 508.
      expect(a.dataPlane.stats.loops).toBe(1);
      expect(a.snapshot().inFlight).toBe(0);
      expect(b.snapshot().inFlight).toBe(0);
    });
    await expectServing(portA, '/api/health');
  });

  it('fix-issue-14-upgrade-loop: 100 looping upgrades are each answered 508 and leave no tunnel or descriptor behind', async () => {
    await attack('upgrade loop storm', async () => {
      const before = openFds();
      const statuses: number[] = [];
      for (let round = 0; round < 10; round += 1) {
        const replies = await Promise.all(Array.from({ length: 10 }, () => rawExchange(portA, UPGRADE('/loop/ws'))));
        for (const reply of replies) statuses.push(reply.status);
      }
      expect(new Set(statuses)).toEqual(new Set([508]));
      expect(a.snapshot().tunnels).toBe(0);
      expect(b.snapshot().tunnels).toBe(0);
      // Every hop's connection is closed again: the count is back near where it started (a few
      // pooled keep-alive sockets may remain), nowhere near one per hop.
      expect(openFds()).toBeLessThan(before + 20);
    });
    await expectServing(portA, '/api/health');
  });
});

describe('issue 14: tunnels per target', () => {
  it('fix-issue-14-tunnel-cap: a target holds at most maxTunnelsPerTarget tunnels; the next upgrade gets 503', async () => {
    await attack('tunnel storm on one target', async () => {
      const sockets: Socket[] = [];
      try {
        for (let index = 0; index < 3; index += 1) {
          const socket = await openSocket(portC);
          sockets.push(socket);
          const head = new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))));
          socket.write(UPGRADE('/ws'));
          expect(await head).toMatch(/^HTTP\/1\.1 101/);
          tallyOne(true);
        }
        expect(c.snapshot().tunnels).toBe(3);
        const refused = await rawExchange(portC, UPGRADE('/ws'));
        expect(refused.status).toBe(503);
        expect(refused.text).toContain('TUNNEL_LIMIT');
        expect(c.dataPlane.stats.tunnelLimit).toBe(1);
        // Closing one tunnel frees its slot.
        const closing = sockets.pop() as Socket;
        const closed = readUntilClose(closing, 3000);
        closing.destroy();
        await closed;
        // The proxy frees the slot when it sees the close (no event reaches the test: poll, bounded).
        await until(() => c.snapshot().tunnels === 2, 5000, 'the closed tunnel to be released');
        const again = await openSocket(portC);
        sockets.push(again);
        const head = new Promise<string>((resolve) => again.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))));
        again.write(UPGRADE('/ws'));
        expect(await head).toMatch(/^HTTP\/1\.1 101/);
        tallyOne(true);
      } finally {
        for (const socket of sockets) socket.destroy();
      }
    });
    await expectServing(portC, '/api/health');
  });
});

describe('issue 14: spoofed client-identity headers', () => {
  it('fix-issue-14-spoofed-identity-headers: none reaches the backend from an untrusted client; Forwarded is the proxy\'s', async () => {
    await attack('spoofed identity headers', async () => {
      const spoofed = {
        forwarded: 'for=10.0.0.1;host=admin.internal;proto=https',
        'x-real-ip': '10.0.0.1',
        'true-client-ip': '10.0.0.1',
        'x-client-ip': '10.0.0.1',
        'x-forwarded-port': '443',
        'x-forwarded-prefix': '/admin',
        'x-original-url': '/admin/delete-everything',
        'x-rewrite-url': '/admin/delete-everything',
        'x-forwarded-server': 'admin.internal',
        'x-forwarded-ssl': 'on',
        'x-forwarded-for': '10.0.0.1',
      };
      const response = await send(portA, '/api/whoami', { headers: spoofed });
      tallyOne(true);
      expect(response.status).toBe(200);
      const seen = (JSON.parse(response.body) as { headers: Record<string, string> }).headers;
      for (const name of Object.keys(spoofed)) {
        if (name === 'forwarded' || name === 'x-forwarded-for') continue;
        expect({ name, value: seen[name] }).toEqual({ name, value: undefined });
      }
      expect(seen.forwarded).toBe('for=127.0.0.1;proto=http;host="127.0.0.1:' + String(portA) + '"');
      expect(seen['x-forwarded-for']).toBe('127.0.0.1');
      expect(seen.via).toBe(`1.1 ${a.options.dataPlane.proxyId}`);
    });
  });
});
