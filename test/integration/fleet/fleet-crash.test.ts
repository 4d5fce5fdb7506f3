/**
 * Issue 11, the fleet under crashes: three proxies on one redis-server (A and B in this process, C in a
 * child process so it can be SIGKILLed), two agents registered with all three, and a steady load through
 * every proxy. A proxy's death must not disturb the others' clients, and a Redis crash must lose neither
 * a request nor an acknowledged key change (Redis runs with appendonly yes, appendfsync always).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import type { ProxyServer as ProxyServerType } from '../../../src/proxy/proxy-server.js';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { generateKeyPair, type Ed25519PrivateJwk } from '../../../src/shared/identity/key-pair.js';
import { proxyAudience } from '../../../src/shared/identity/proxy-audience.js';
import { signToken } from '../../../src/shared/identity/sign-token.js';
import { publicKeyPin } from '../../../src/shared/tls/public-key-pin.js';
import { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import { dial, type ControlClient } from '../../helpers/control-plane-client.js';
import { testCertificate } from '../../helpers/control-plane-fixture.js';
import { send } from '../../helpers/data-plane-client.js';
import { eventually } from '../../helpers/eventually.js';
import { killChild, nextMessage } from '../../helpers/hostile-processes.js';
import { RedisServerFixture } from '../../helpers/redis-server.js';

interface Key {
  readonly id: string;
  readonly privateJwk: Ed25519PrivateJwk;
  readonly publicJwk: Record<string, unknown>;
}

interface ChildProxy {
  readonly child: ChildProcess;
  readonly http: number;
  readonly control: number;
  readonly pin: string;
}

const PREFIX = 'crash:';
const CHILD = path.join(import.meta.dirname, 'fixtures', 'fleet-proxy-child.mjs');
// The child runs the compiled sources of this checkout (`npm test` builds dist/ first; alone: `npm run build`).
const DIST = path.resolve(import.meta.dirname, '..', '..', '..', 'dist');
let redis: RedisServerFixture;
let cert: { cert: string; key: string };
let a: ProxyServerType;
let b: ProxyServerType;
let c: ChildProxy;
let admin: Key;
const agents: Key[] = [];
const webs: ProxyWebServer[] = [];
const websOnC: ProxyWebServer[] = [];
const clients: ControlClient[] = [];

async function makeKey(id: string): Promise<Key> {
  const { privateJwk, publicJwk } = await generateKeyPair(id);
  return { id, privateJwk, publicJwk: publicJwk as unknown as Record<string, unknown> };
}

function token(key: Key): Promise<string> {
  return signToken(key.privateJwk, { subject: key.id, audience: proxyAudience(publicKeyPin(cert.cert)), ttlSeconds: 60 });
}

function inProcessProxy(nodeId: string): ProxyServerType {
  return new ProxyServer({
    host: '127.0.0.1',
    port: 0,
    shutdownTimeoutMs: 2000,
    control: { host: '127.0.0.1', port: 0, tls: cert, heartbeatIntervalMs: 1000 },
    trustStore: { redis: { url: redis.url, prefix: PREFIX, nodeId, streamBlockMs: 200, membershipTtlMs: 1000 } },
  });
}

async function startChild(ports: { http: number; control: number }): Promise<ChildProxy> {
  const options = { redisUrl: redis.url, prefix: PREFIX, nodeId: 'proxy-c', port: ports.http, controlPort: ports.control, cert: cert.cert, key: cert.key };
  const child = fork(CHILD, [DIST, JSON.stringify(options)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  child.on('error', () => undefined);
  const listening = await nextMessage<{ type: string; http: number; control: number; pin: string }>(child, (message) => message.type === 'listening', 30_000, 'proxy C listening');
  return { child, http: listening.http, control: listening.control, pin: listening.pin };
}

async function agentOn(url: string, pin: string, key: Key): Promise<ProxyWebServer> {
  const web = new ProxyWebServer({
    proxyUrl: url,
    agentId: key.id,
    key: key.privateJwk,
    server: http.createServer((_req, res) => res.end(JSON.stringify({ name: key.id }))),
    rules: ['/api'],
    pin,
    drainTimeoutMs: 1000,
    reconnect: { initialDelayMs: 50, maxDelayMs: 300 },
  });
  webs.push(web);
  await web.start();
  return web;
}

/** Requests through `ports` from a few concurrent loops until `stop()`; returns the tally. */
function load(ports: readonly number[]): { readonly tally: { ok: number; failed: string[] }; stop(): Promise<{ ok: number; failed: string[] }> } {
  let running = true;
  const tally = { ok: 0, failed: [] as string[] };
  const loops = ports.flatMap((port) =>
    [0, 1].map(async () => {
      while (running) {
        try {
          const response = await send(port, '/api');
          if (response.status === 200) tally.ok += 1;
          else tally.failed.push(`${port}: ${response.status} ${response.body.slice(0, 80)}`);
        } catch (error) {
          tally.failed.push(`${port}: ${(error as Error).message}`);
        }
      }
    }),
  );
  return {
    tally,
    async stop() {
      running = false;
      await Promise.all(loops);
      return tally;
    },
  };
}

/** Resolves once `count` more requests succeeded. */
async function requestsDone(count: number, tally: { ok: number }): Promise<void> {
  const target = tally.ok + count;
  await eventually(`${count} more requests`, () => tally.ok >= target, 20_000);
}

async function answeredBy(port: number): Promise<Set<string>> {
  const names = new Set<string>();
  for (let index = 0; index < 6; index += 1) {
    const response = await send(port, '/api');
    expect(response.status).toBe(200);
    names.add((JSON.parse(response.body) as { name: string }).name);
  }
  return names;
}

beforeAll(async () => {
  redis = await RedisServerFixture.start();
  cert = await testCertificate();
  a = inProcessProxy('proxy-a');
  b = inProcessProxy('proxy-b');
  await Promise.all([a.start(), b.start()]);
  c = await startChild({ http: 0, control: 0 });
  admin = await makeKey('admin');
  await a.trustStore!.add({ id: admin.id, publicKey: admin.publicJwk, role: 'admin' });
  for (const id of ['WEB1', 'WEB2']) {
    const key = await makeKey(id);
    agents.push(key);
    await a.trustStore!.add({ id, publicKey: key.publicJwk, scope: { rules: ['/api'], hosts: ['127.0.0.1'] } });
  }
  await eventually('B knows every key', () => b.trustStore!.size === 3);
  for (const key of agents) {
    await agentOn(a.controlPlane!.url, a.pin!, key);
    await agentOn(b.controlPlane!.url, b.pin!, key);
    // C's agents dial it by port, so they find it again when it restarts on the same ports.
    websOnC.push(await agentOn(`wss://127.0.0.1:${c.control}`, c.pin, key));
  }
}, 90_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await Promise.all(webs.map((web) => web.stop().catch(() => undefined)));
  if (c !== undefined) await killChild(c.child, 'SIGKILL');
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.close();
});

describe('the fleet under crashes', () => {
  it('SIGKILL of one proxy under load leaves the clients of the other two without an error, and the agents re-register when it restarts', async () => {
    const ports = { http: c.http, control: c.control };
    const traffic = load([a.addresses.http!.port, b.addresses.http!.port]);
    await requestsDone(20, traffic.tally);
    const lost = websOnC.map((web) => new Promise<void>((resolve) => web.once('disconnected', () => resolve())));
    await killChild(c.child, 'SIGKILL');
    await Promise.all(lost);
    await requestsDone(50, traffic.tally);
    const afterKill = await traffic.stop();
    expect(afterKill.failed).toEqual([]);
    expect(afterKill.ok).toBeGreaterThan(0);

    const back = websOnC.map((web) => new Promise<void>((resolve) => web.once('registered', () => resolve())));
    c = await startChild(ports);
    await Promise.all(back);
    expect(await answeredBy(c.http)).toEqual(new Set(['WEB1', 'WEB2']));
  }, 60_000);

  it('SIGKILL and restart of Redis under load loses no request and no acknowledged key change', async () => {
    const adminA = await dial(a.controlPlane!.url, { ca: cert.cert, token: await token(admin) });
    clients.push(adminA);
    const acknowledged = await makeKey('ACKED');
    expect(await adminA.request({ type: 'keys.add', keyId: acknowledged.id, publicKey: acknowledged.publicJwk, scope: { rules: ['/api'], hosts: ['127.0.0.1'] } })).toMatchObject({ type: 'ack' });

    const traffic = load([a.addresses.http!.port, b.addresses.http!.port, c.http]);
    await requestsDone(20, traffic.tally);
    await redis.kill();
    await requestsDone(50, traffic.tally);
    const refused = await makeKey('REFUSED');
    const reply = await adminA.request({ type: 'keys.add', keyId: refused.id, publicKey: refused.publicJwk });
    expect(reply).toMatchObject({ type: 'error', code: 'RP_ERR_TRUST_STORE' });
    await redis.restart();
    await eventually('every proxy is in contact with Redis again', () => a.fleet!.trustStore.status().connected && b.fleet!.trustStore.status().connected, 20_000);
    await requestsDone(20, traffic.tally);
    const result = await traffic.stop();
    expect(result.failed).toEqual([]);
    expect(result.ok).toBeGreaterThan(0);

    for (const proxy of [a, b]) {
      expect(proxy.trustStore!.get(acknowledged.id)).toBeDefined();
      expect(proxy.trustStore!.get(refused.id)).toBeUndefined();
    }
    // The fleet follows changes again: a removal through B reaches A.
    const removedOnA = new Promise<void>((resolve) => a.trustStore!.once('removed', () => resolve()));
    await b.trustStore!.remove(acknowledged.id);
    await removedOnA;
    expect(a.trustStore!.get(acknowledged.id)).toBeUndefined();
  }, 60_000);
});
