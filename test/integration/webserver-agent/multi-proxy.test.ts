/**
 * Agents on several proxies (issue 11): one ProxyWebServer registered with three real ProxyServers, each
 * with its own in-memory trust store holding the same key. One independent session per proxy: a proxy
 * that stops and restarts affects only its own session.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from '@jest/globals';
import http from 'node:http';
import net from 'node:net';
import { TrustStore } from '../../../src/shared/trust/trust-store.js';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import type { Backend } from '../../../src/proxy/registry/backend.js';
import { generateKeyPair, type Ed25519PrivateJwk } from '../../../src/shared/identity/key-pair.js';
import { ProxyWebServer, type ProxyWebServerOptions } from '../../../src/webserver-agent/proxy-web-server.js';
import { nextEvent, testCertificate } from '../../helpers/control-plane-fixture.js';
import { send, startProxy } from '../../helpers/data-plane-client.js';

interface TestProxy {
  proxy: ProxyServer;
  port: number;
  url: string;
  trustStore: TrustStore;
}

const AGENT = 'MULTI01';
let privateJwk: Ed25519PrivateJwk;
let publicJwk: Record<string, unknown>;
const proxies: TestProxy[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

async function startTestProxy(options: { controlPort?: number; rules?: string[]; trustStore?: TrustStore } = {}): Promise<TestProxy> {
  const trustStore = options.trustStore ?? TrustStore.inMemory();
  if (trustStore.get(AGENT) === undefined) await trustStore.add({ id: AGENT, publicKey: publicJwk, scope: { rules: options.rules ?? ['/api'], hosts: ['127.0.0.1'] } });
  const { proxy, port } = await startProxy({
    trustStore,
    control: { host: '127.0.0.1', port: options.controlPort ?? 0, tls: await testCertificate(), heartbeatIntervalMs: 500 },
  });
  return { proxy, port, url: proxy.controlPlane!.url, trustStore };
}

function agent(urls: ProxyWebServerOptions['proxyUrl'], extra: Partial<ProxyWebServerOptions> = {}): ProxyWebServer {
  const web = new ProxyWebServer({
    proxyUrl: urls,
    agentId: AGENT,
    key: privateJwk,
    server: http.createServer((_req, res) => res.end('multi')),
    rules: ['/api'],
    pin: proxies[0]!.proxy.pin,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    drainTimeoutMs: 2000,
    closeGraceMs: 500,
    ...extra,
  });
  web.on('error', () => undefined);
  cleanups.push(() => web.stop());
  return web;
}

/** A loopback port with nothing listening on it (bound, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A loopback port that stays taken for the rest of the file and resets every connection: a proxy that
 * cannot be reached. (A port merely released could be bound meanwhile by another test file's TLS server,
 * whose certificate the agent would then refuse at once with RP_ERR_TLS.)
 */
async function unreachablePort(): Promise<number> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

function agentIds(proxy: TestProxy): string[] {
  return proxy.proxy.registry.list().map((backend) => backend.agentId);
}

beforeAll(async () => {
  const pair = await generateKeyPair(AGENT);
  privateJwk = pair.privateJwk;
  publicJwk = { ...pair.publicJwk };
  for (let i = 0; i < 3; i += 1) proxies.push(await startTestProxy());
});

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

afterAll(async () => {
  await Promise.all(proxies.map((entry) => entry.proxy.stop()));
});

describe('ProxyWebServer on several proxies', () => {
  it('registers with every proxy before start() resolves; each proxy routes to it; events name the proxy', async () => {
    const web = agent(proxies.map((entry) => entry.url));
    const registered: string[] = [];
    web.on('registered', (info) => registered.push(info.proxyUrl));
    await web.start();
    expect(registered.sort()).toEqual(proxies.map((entry) => entry.url).sort());
    expect(web.registered).toBe(true);
    expect(web.proxies.map((link) => link.registered)).toEqual([true, true, true]);
    for (const entry of proxies) {
      expect(agentIds(entry)).toEqual([AGENT]);
      expect(await send(entry.port, '/api/x')).toMatchObject({ status: 200, body: 'multi' });
    }
  });

  it('stop() drains on every proxy', async () => {
    const web = agent(proxies.map((entry) => entry.url));
    await web.start();
    const removed = proxies.map((entry) => nextEvent<[Backend, string]>(entry.proxy, 'backend_removed'));
    await web.stop();
    for (const [, reason] of await Promise.all(removed)) expect(reason).toBe('drained');
    for (const entry of proxies) expect(agentIds(entry)).toEqual([]);
  });

  it('a proxy that stops and restarts affects only its own session; the agent re-registers with it', async () => {
    const extra = await startTestProxy();
    cleanups.push(() => extra.proxy.stop());
    const web = agent([proxies[0]!.url, extra.url]);
    await web.start();
    const kept = proxies[0]!.proxy.registry.list()[0]!.id;
    let removedElsewhere = 0;
    const onRemoved = (): void => {
      removedElsewhere += 1;
    };
    proxies[0]!.proxy.on('backend_removed', onRemoved);
    const disconnected = nextEvent<[{ proxyUrl: string }]>(web, 'disconnected');
    const controlPort = extra.proxy.controlPlane!.address.port;
    await extra.proxy.stop();
    expect((await disconnected)[0].proxyUrl).toBe(extra.url);
    expect(web.proxies.map((link) => link.registered)).toEqual([true, false]);
    expect(web.registered).toBe(false);
    const reRegistered = nextEvent<[{ proxyUrl: string }]>(web, 'registered', 10_000);
    const restarted = await startTestProxy({ controlPort, trustStore: extra.trustStore });
    cleanups.push(() => restarted.proxy.stop());
    expect((await reRegistered)[0].proxyUrl).toBe(extra.url);
    expect(agentIds(restarted)).toEqual([AGENT]);
    proxies[0]!.proxy.off('backend_removed', onRemoved);
    expect(removedElsewhere).toBe(0);
    expect(proxies[0]!.proxy.registry.list()[0]!.id).toBe(kept);
    expect(web.registered).toBe(true);
  });

  it("start() rejects with the refusing proxy's code and leaves no registration on the others", async () => {
    const narrow = await startTestProxy({ rules: ['/other'] });
    cleanups.push(() => narrow.proxy.stop());
    const server = http.createServer();
    const web = agent([proxies[0]!.url, narrow.url, proxies[1]!.url], { server });
    const removed = [proxies[0]!, proxies[1]!].map((entry) => nextEvent<[Backend, string]>(entry.proxy, 'backend_removed'));
    await expect(web.start()).rejects.toMatchObject({ code: 'RP_ERR_OUT_OF_SCOPE' });
    expect(server.listening).toBe(false);
    expect(web.state).toBe('idle');
    // A refused start closes the sessions it opened: no proxy keeps routing to a server that is closed.
    await Promise.all(removed);
    for (const entry of [proxies[0]!, proxies[1]!, narrow]) expect(agentIds(entry)).toEqual([]);
  });

  it('minAcks lowers what start() waits for; the missing proxy is retried and joins when it comes up', async () => {
    const controlPort = await freePort();
    const lateUrl = `wss://127.0.0.1:${controlPort}`;
    const web = agent([proxies[0]!.url, proxies[1]!.url, lateUrl], { minAcks: 2 });
    const retrying = nextEvent<[{ proxyUrl: string; code: string }]>(web, 'retrying');
    await web.start();
    expect(web.registered).toBe(true);
    expect(web.proxies.map((link) => link.registered)).toEqual([true, true, false]);
    expect((await retrying)[0]).toMatchObject({ proxyUrl: lateUrl, code: 'RP_ERR_DISCONNECTED' });
    const joined = nextEvent<[{ proxyUrl: string }]>(web, 'registered', 10_000);
    const late = await startTestProxy({ controlPort });
    cleanups.push(() => late.proxy.stop());
    expect((await joined)[0].proxyUrl).toBe(lateUrl);
    expect(agentIds(late)).toEqual([AGENT]);
  });

  it('startTimeoutMs bounds a start that cannot reach its quorum, with the last reason', async () => {
    const web = agent([proxies[0]!.url, `wss://127.0.0.1:${await unreachablePort()}`], { startTimeoutMs: 500 });
    const removed = nextEvent<[Backend, string]>(proxies[0]!.proxy, 'backend_removed');
    await expect(web.start()).rejects.toMatchObject({ code: 'RP_ERR_DISCONNECTED', message: expect.stringContaining('not registered with 2 of 2 proxies') });
    await removed;
    expect(agentIds(proxies[0]!)).toEqual([]);
  });

  it('stop() during a start that is still retrying ends it: start() rejects RP_ERR_NOT_RUNNING, the server is closed', async () => {
    const server = http.createServer();
    const web = agent([`wss://127.0.0.1:${await unreachablePort()}`], { server });
    const retrying = nextEvent(web, 'retrying');
    const starting = web.start();
    await retrying;
    await web.stop();
    await expect(starting).rejects.toMatchObject({ code: 'RP_ERR_NOT_RUNNING' });
    expect(server.listening).toBe(false);
    expect(web.state).toBe('stopped');
  });

  it('addProxy() and removeProxy() change the proxies at run time without touching the others', async () => {
    const web = agent([proxies[0]!.url]);
    await web.start();
    await web.addProxy(proxies[1]!.url);
    expect(agentIds(proxies[1]!)).toEqual([AGENT]);
    await expect(web.addProxy(proxies[1]!.url)).rejects.toMatchObject({ code: 'RP_ERR_INVALID_OPTION' });
    const removed = nextEvent<[Backend, string]>(proxies[1]!.proxy, 'backend_removed');
    expect(await web.removeProxy(proxies[1]!.url)).toBe(true);
    expect((await removed)[1]).toBe('drained');
    expect(await web.removeProxy(proxies[1]!.url)).toBe(false);
    expect(agentIds(proxies[0]!)).toEqual([AGENT]);
    expect(web.proxies.map((link) => link.proxyUrl)).toEqual([proxies[0]!.url]);
  });
});
