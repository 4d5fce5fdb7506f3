/**
 * Issue 11, the fleet: three proxies sharing one trust on a real redis-server, with four agents each
 * registered with all three (one ProxyWebServer listing the three proxies: one session per proxy).
 * Proxy B reaches Redis through a relay the tests can cut, and has a 1 s staleness bound.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ProxyServer as ProxyServerType } from '../../../src/proxy/proxy-server.js';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { generateKeyPair, type Ed25519PrivateJwk } from '../../../src/shared/identity/key-pair.js';
import { proxyAudience } from '../../../src/shared/identity/proxy-audience.js';
import { signToken } from '../../../src/shared/identity/sign-token.js';
import { publicKeyPin } from '../../../src/shared/tls/public-key-pin.js';
import type { FleetNode } from '../../../src/shared/fleet/fleet-node.js';
import { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import { runCli } from '../../../src/sysadmin/run-cli.js';
import { collector } from '../../helpers/cli-output.js';
import { dial, tryDial, type ControlClient } from '../../helpers/control-plane-client.js';
import { testCertificate } from '../../helpers/control-plane-fixture.js';
import { send } from '../../helpers/data-plane-client.js';
import { eventually } from '../../helpers/eventually.js';
import { RedisServerFixture } from '../../helpers/redis-server.js';
import { TcpRelay } from '../../helpers/tcp-relay.js';

interface Key {
  readonly id: string;
  readonly privateJwk: Ed25519PrivateJwk;
  readonly publicJwk: Record<string, unknown>;
}

const AGENTS = ['WEB1', 'WEB2', 'WEB3', 'WEB4'];
const REVOCATIONS = 50;
let redis: RedisServerFixture;
let relay: TcpRelay;
let cert: { cert: string; key: string };
let proxies: ProxyServerType[] = [];
let admin: Key;
const adminClients = new Map<ProxyServerType, ControlClient>();
const webs: ProxyWebServer[] = [];
const webOwners = new Map<string, ProxyWebServer>();
const agentKeys = new Map<string, Key>();

async function makeKey(id: string): Promise<Key> {
  const { privateJwk, publicJwk } = await generateKeyPair(id);
  return { id, privateJwk, publicJwk: publicJwk as unknown as Record<string, unknown> };
}

function token(key: Key): Promise<string> {
  return signToken(key.privateJwk, { subject: key.id, audience: proxyAudience(publicKeyPin(cert.cert)), ttlSeconds: 60 });
}

function knownBy(proxy: ProxyServerType, id: string, known = true): Promise<void> {
  return eventually(`${id} ${known ? 'trusted' : 'forgotten'} by ${proxy.fleet?.options.nodeId ?? '?'}`, () => (proxy.trustStore?.get(id) !== undefined) === known);
}

async function adminOf(proxy: ProxyServerType): Promise<ControlClient> {
  let client = adminClients.get(proxy);
  if (client === undefined) {
    client = await dial(proxy.controlPlane!.url, { ca: cert.cert, token: await token(admin) });
    adminClients.set(proxy, client);
  }
  return client;
}

async function addKey(through: ProxyServerType, key: Key, rules: string[]): Promise<void> {
  const reply = await (await adminOf(through)).request({ type: 'keys.add', keyId: key.id, publicKey: key.publicJwk, scope: { rules, hosts: ['127.0.0.1'] } });
  expect(reply).toMatchObject({ type: 'ack' });
}

async function removeKey(through: ProxyServerType, id: string): Promise<void> {
  const reply = await (await adminOf(through)).request({ type: 'keys.remove', keyId: id });
  expect(reply).toMatchObject({ type: 'ack' });
}

function startProxy(nodeId: string, url: string, extra: { trustMaxStalenessMs?: number; admin?: boolean } = {}): ProxyServerType {
  return new ProxyServer({
    host: '127.0.0.1',
    port: 0,
    shutdownTimeoutMs: 2000,
    control: { host: '127.0.0.1', port: 0, tls: cert, heartbeatIntervalMs: 1000 },
    ...(extra.admin === true ? { admin: { host: '127.0.0.1', port: 0 } } : {}),
    trustStore: { redis: { url, prefix: 'fleet:', nodeId, streamBlockMs: 200, membershipTtlMs: 1000, trustMaxStalenessMs: extra.trustMaxStalenessMs ?? 30_000 } },
  });
}

/** One agent registered with every listed proxy (one session each); resolves once all acknowledged. */
async function agentOn(targets: readonly ProxyServerType[], key: Key, rule = '/api'): Promise<ProxyWebServer> {
  const web = new ProxyWebServer({
    proxyUrl: targets.map((proxy) => ({ url: proxy.controlPlane!.url, pin: proxy.pin! })),
    agentId: key.id,
    key: key.privateJwk,
    server: http.createServer((_req, res) => res.end(JSON.stringify({ name: key.id }))),
    rules: [rule],
    drainTimeoutMs: 1000,
    reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
  });
  web.on('error', () => undefined);
  webs.push(web);
  webOwners.set(key.id, web);
  await web.start();
  return web;
}

function httpPort(proxy: ProxyServerType): number {
  return proxy.addresses.http?.port ?? 0;
}

async function answeredBy(proxy: ProxyServerType, path: string, count: number): Promise<Set<string>> {
  const names = new Set<string>();
  for (let index = 0; index < count; index += 1) {
    const response = await send(httpPort(proxy), path);
    expect(response.status).toBe(200);
    names.add((JSON.parse(response.body) as { name: string }).name);
  }
  return names;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

beforeAll(async () => {
  redis = await RedisServerFixture.start();
  relay = await TcpRelay.start(redis.port);
  cert = await testCertificate();
  proxies = [startProxy('proxy-a', redis.url), startProxy('proxy-b', relay.url, { trustMaxStalenessMs: 1000, admin: true }), startProxy('proxy-c', redis.url)];
  await Promise.all(proxies.map((proxy) => proxy.start()));
  admin = await makeKey('admin');
  await proxies[0]!.trustStore!.add({ id: admin.id, publicKey: admin.publicJwk, role: 'admin' });
  await Promise.all(proxies.map((proxy) => knownBy(proxy, admin.id)));
  for (const id of AGENTS) agentKeys.set(id, await makeKey(id));
}, 60_000);

afterAll(async () => {
  await Promise.all(webs.map((web) => web.stop().catch(() => undefined)));
  await Promise.all([...adminClients.values()].map((client) => client.close()));
  await Promise.all(proxies.map((proxy) => proxy.stop()));
  await relay?.close();
  await redis?.close();
});

describe('a fleet of three proxies sharing one trust on Redis', () => {
  const [a, b, c] = [() => proxies[0]!, () => proxies[1]!, () => proxies[2]!];

  it('each proxy lists the two others as peers, in fleet.list, /api/status and inteli-sysadmin fleet list [--json]', async () => {
    await eventually('every proxy sees two peers', () => proxies.every((proxy) => proxy.fleet!.membership.peers().length === 2));
    const reply = await (await adminOf(b())).request({ type: 'fleet.list' });
    const result = reply.result as { shared: boolean; trust: { kind: string; ok: boolean }; nodes: Array<FleetNode & { self: boolean }> };
    expect(result.shared).toBe(true);
    expect(result.trust).toEqual({ kind: 'redis', ok: true });
    expect(result.nodes.map((node) => [node.id, node.self])).toEqual([
      ['proxy-a', false],
      ['proxy-b', true],
      ['proxy-c', false],
    ]);
    const nodeB = result.nodes[1]!;
    expect(nodeB.addresses).toContain(`wss://127.0.0.1:${b().addresses.control!.port}`);
    expect(nodeB.pin).toBe(b().pin);
    const status = await fetch(`http://127.0.0.1:${b().addresses.admin!.port}/api/status`);
    expect(((await status.json()) as { fleet: { nodes: unknown[] } }).fleet.nodes).toHaveLength(3);

    // inteli-sysadmin fleet list, through proxy C.
    const dir = await mkdtemp(path.join(tmpdir(), 'inteli-fleet-cli-'));
    try {
      const keyFile = path.join(dir, 'admin.key.json');
      await writeFile(keyFile, JSON.stringify(admin.privateJwk), { mode: 0o600 });
      const connection = ['--proxy', c().controlPlane!.url, '--id', 'admin', '--key', keyFile, '--pin', c().pin!];
      const text = collector();
      expect(await runCli(['fleet', 'list', ...connection], text)).toBe(0);
      expect(text.out()).toContain('3 proxies share this trust (* = the one answering); trust: redis, ok');
      expect(text.out()).toContain('proxy-c *');
      const json = collector();
      expect(await runCli(['fleet', 'list', '--json', ...connection], json)).toBe(0);
      const listed = JSON.parse(json.out()) as { fleet: { shared: boolean; nodes: Array<{ id: string; self: boolean }> } };
      expect(listed.fleet.shared).toBe(true);
      expect(listed.fleet.nodes.filter((node) => node.self).map((node) => node.id)).toEqual(['proxy-c']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keys added through proxy A admit their agents on B and C; four agents registered with all three are routed through each proxy', async () => {
    for (const id of AGENTS) await addKey(a(), agentKeys.get(id)!, ['/api']);
    for (const proxy of proxies) for (const id of AGENTS) await knownBy(proxy, id);
    // start() resolves only once A, B and C all acknowledged: B admitted keys it learnt from Redis.
    for (const id of AGENTS) {
      const web = await agentOn(proxies, agentKeys.get(id)!);
      expect(web.proxies.map((link) => link.registered)).toEqual([true, true, true]);
    }
    for (const proxy of proxies) expect(await answeredBy(proxy, '/api', 8)).toEqual(new Set(AGENTS));
  });

  it('a token used at one proxy is refused by another (shared replay cache)', async () => {
    const key = agentKeys.get('WEB2')!;
    const shared = await token(key);
    const first = await tryDial(a().controlPlane!.url, { ca: cert.cert, token: shared });
    expect(first.ok).toBe(true);
    if (first.ok) await first.client.close();
    const replayed = await tryDial(c().controlPlane!.url, { ca: cert.cert, token: shared });
    expect(replayed).toMatchObject({ ok: false, status: 401 });
    expect(c().fleet!.replayCache.stats.replays).toBeGreaterThanOrEqual(1);
  });

  it('a key removed through C closes its agent sessions (4003) on all three proxies within 1 s; p99 over 50 removals', async () => {
    const latencies: number[] = [];
    for (let round = 0; round < REVOCATIONS; round += 1) {
      const key = await makeKey(`REV${round}`);
      await addKey(a(), key, ['/rev']);
      await Promise.all(proxies.map((proxy) => knownBy(proxy, key.id)));
      const sessions = await Promise.all(proxies.map(async (proxy) => dial(proxy.controlPlane!.url, { ca: cert.cert, token: await token(key) })));
      const started = performance.now();
      const closedAt = sessions.map((session) => session.closed.then(({ code }) => ({ code, at: performance.now() })));
      await removeKey(c(), key.id);
      const closes = await Promise.all(closedAt);
      expect(closes.map((close) => close.code)).toEqual([4003, 4003, 4003]);
      latencies.push(Math.max(...closes.map((close) => close.at)) - started);
    }
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    process.stdout.write(`fleet revocation (3 proxies, ${REVOCATIONS} removals): p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms\n`);
    expect(p99).toBeLessThan(1000);
  }, 120_000);

  it('a real agent revoked through C is cut off on A, B and C, and its routes leave every proxy', async () => {
    const key = agentKeys.get('WEB4')!;
    const web = webOwners.get(key.id)!;
    const cutOff = new Promise<Map<string, number>>((resolve) => {
      const codes = new Map<string, number>();
      web.on('disconnected', ({ code, proxyUrl }) => {
        codes.set(proxyUrl, code);
        if (codes.size === 3) resolve(codes);
      });
    });
    const removed = proxies.map((proxy) => new Promise<string>((resolve) => {
      const listener = (backend: { agentId: string }, reason: string): void => {
        if (backend.agentId !== key.id) return;
        proxy.off('backend_removed', listener);
        resolve(reason);
      };
      proxy.on('backend_removed', listener);
    }));
    await removeKey(c(), key.id);
    expect(await Promise.all(removed)).toEqual(['revoked', 'revoked', 'revoked']);
    const codes = await cutOff;
    expect(proxies.map((proxy) => codes.get(proxy.controlPlane!.url))).toEqual([4003, 4003, 4003]);
    for (const proxy of proxies) expect(await answeredBy(proxy, '/api', 6)).toEqual(new Set(['WEB1', 'WEB2', 'WEB3']));
  });

  it('a revocation made while B was cut off from Redis is applied when it reconnects', async () => {
    const key = agentKeys.get('WEB3')!;
    relay.cut();
    await eventually('B sees its link down', () => !b().fleet!.trustStore.status().connected);
    await removeKey(a(), key.id);
    // Within its staleness bound B still serves the last known keys.
    const revokedOnB = new Promise<void>((resolve) => {
      const listener = (backend: { agentId: string }, reason: string): void => {
        if (backend.agentId !== key.id || reason !== 'revoked') return;
        b().off('backend_removed', listener);
        resolve();
      };
      b().on('backend_removed', listener);
    });
    relay.restore();
    await revokedOnB;
    expect(b().trustStore!.get(key.id)).toBeUndefined();
    expect(await answeredBy(b(), '/api', 4)).toEqual(new Set(['WEB1', 'WEB2']));
  });

  it('past the staleness bound B refuses new sessions with 503 RP_ERR_TRUST_STALE and /readyz 503, while its existing sessions still serve', async () => {
    relay.cut();
    await eventually('B is stale', () => b().trustStore!.health().ok === false, 10_000);
    const refused = await tryDial(b().controlPlane!.url, { ca: cert.cert, token: await token(agentKeys.get('WEB1')!) });
    expect(refused).toMatchObject({ ok: false, status: 503, body: expect.stringContaining('RP_ERR_TRUST_STALE') });
    const ready = await fetch(`http://127.0.0.1:${b().addresses.admin!.port}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false, reason: 'trust_stale', trustStore: { ok: false } });
    const metrics = await (await fetch(`http://127.0.0.1:${b().addresses.admin!.port}/metrics`)).text();
    expect(metrics).toMatch(/^inteli_trust_store_stale 1$/m);
    // The data plane and the sessions already open are untouched.
    expect(await answeredBy(b(), '/api', 4)).toEqual(new Set(['WEB1', 'WEB2']));
    // A and C are unaffected.
    const fine = await tryDial(a().controlPlane!.url, { ca: cert.cert, token: await token(agentKeys.get('WEB1')!) });
    expect(fine.ok).toBe(true);
    if (fine.ok) await fine.client.close();

    relay.restore();
    await eventually('B is current again', () => b().trustStore!.health().ok, 10_000);
    expect((await fetch(`http://127.0.0.1:${b().addresses.admin!.port}/readyz`)).status).toBe(200);
  });

  it('a stopped proxy leaves the fleet: its peers emit node_removed', async () => {
    const extra = startProxy('proxy-d', redis.url);
    await extra.start();
    await eventually('A sees D', () => a().fleet!.membership.peers().some((node) => node.id === 'proxy-d'));
    const gone = new Promise<[FleetNode, string]>((resolve) => a().once('node_removed', (node, reason) => resolve([node, reason])));
    await extra.stop();
    const [node, reason] = await gone;
    expect(node.id).toBe('proxy-d');
    expect(reason).toBe('gone');
  });
});
