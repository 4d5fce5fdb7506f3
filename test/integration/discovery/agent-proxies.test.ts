/**
 * Discovery end to end, on loopback only (multicast on 127.0.0.1 with TTL 0): proxies with a cluster
 * secret, and an agent given only that secret (no URL, no pin), which finds them, registers with each and
 * is routed through each; follows a proxy started later and one that stops; and refuses a fake proxy
 * that an authenticated beacon points to but that cannot prove the secret on TLS.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WebSocketServer } from 'ws';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { publicKeyPin } from '../../../src/shared/tls/public-key-pin.js';
import { generateDevCertificate } from '../../../src/shared/tls/dev-certificate.js';
import { AgentDiscovery } from '../../../src/shared/discovery/agent-discovery.js';
import { ProxyDiscovery } from '../../../src/shared/discovery/proxy-discovery.js';
import type { FleetNode } from '../../../src/shared/fleet/fleet-node.js';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { TrustStore } from '../../../src/shared/trust/index.js';
import { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import { testCertificate } from '../../helpers/control-plane-fixture.js';
import { waitUntil } from '../../helpers/wait-until.js';
import { send, startProxy } from '../../helpers/data-plane-client.js';
import { freeUdpPort, LOOPBACK_INTERFACE, loopbackOptions, newSecret } from '../../helpers/discovery-loopback.js';

const secret = newSecret();
let discovery: ReturnType<typeof loopbackOptions>;
let agentKey: Awaited<ReturnType<typeof generateKeyPair>>;
const proxies = new Map<string, ProxyServer>();
let agent: ProxyWebServer;
let backend: http.Server;

async function startClusterProxy(proxyId: string): Promise<ProxyServer> {
  const trustStore = TrustStore.inMemory();
  await trustStore.add({ id: 'disc-agent', publicKey: agentKey.publicJwk, scope: { rules: ['/disc'], hosts: [LOOPBACK_INTERFACE] } });
  const { proxy } = await startProxy({
    trustStore,
    control: { host: LOOPBACK_INTERFACE, port: 0, tls: await testCertificate(), heartbeatIntervalMs: 1000 },
    discovery: { ...discovery, proxyId },
  });
  proxies.set(proxyId, proxy);
  return proxy;
}

function registeredWith(proxy: ProxyServer): Promise<void> {
  const url = `${proxy.controlPlane!.url}/`;
  return new Promise((resolve) => {
    const onRegistered = (info: { proxyUrl: string }): void => {
      if (info.proxyUrl !== url) return;
      agent.off('registered', onRegistered);
      resolve();
    };
    agent.on('registered', onRegistered);
  });
}

beforeAll(async () => {
  // A 1 s beacon lifetime: long enough that a loaded machine drops no live proxy, short enough for the test.
  discovery = loopbackOptions(secret, { port: await freeUdpPort(), intervalMs: 200, lifetimeIntervals: 5 });
  agentKey = await generateKeyPair('disc-agent');
  backend = http.createServer((_req, res) => res.end('served by the discovered agent'));
  await new Promise<void>((resolve) => backend.listen(0, LOOPBACK_INTERFACE, resolve));
});

afterAll(async () => {
  await agent?.stop();
  await Promise.all([...proxies.values()].map((proxy) => proxy.stop()));
  await new Promise((resolve) => backend.close(resolve));
});

describe('the proxy side of the channel proof', () => {
  it('refuses with 401 an agent whose proof is made with another secret, before its token is looked at', async () => {
    const proxy = proxies.get('proxy-one') ?? (await startClusterProxy('proxy-one'));
    const stranger = new AgentDiscovery({ ...discovery, secret: newSecret() });
    const web = new ProxyWebServer({
      proxyUrl: proxy.controlPlane!.url,
      pin: proxy.pin,
      agentId: 'disc-agent',
      key: agentKey.privateJwk,
      target: { host: LOOPBACK_INTERFACE, port: 1 },
      rules: ['/disc'],
      channelProof: stranger,
    });
    try {
      await expect(web.start()).rejects.toMatchObject({ code: 'RP_ERR_UNAUTHORIZED' });
    } finally {
      await web.stop();
    }
  });
});

describe('an agent with only the cluster secret', () => {
  it('finds two proxies, registers with both and is routed through both', async () => {
    const one = proxies.get('proxy-one') ?? (await startClusterProxy('proxy-one'));
    const two = await startClusterProxy('proxy-two');
    agent = new ProxyWebServer({
      agentId: 'disc-agent',
      key: agentKey.privateJwk,
      server: backend,
      rules: ['/disc'],
      drainTimeoutMs: 1000,
      discovery: { ...discovery, port: discovery.port },
    });
    const both = Promise.all([registeredWith(one), registeredWith(two)]);
    await agent.start();
    await both;
    for (const proxy of [one, two]) {
      const response = await send(proxy.addresses.http!.port, '/disc/hello');
      expect([response.status, response.body]).toEqual([200, 'served by the discovered agent']);
    }
    expect(agent.discoveredProxies.map((proxy) => proxy.announcement.proxyId).sort()).toEqual(['proxy-one', 'proxy-two']);
  });

  it('proxies see each other: peers, /api/status fleet and metrics', async () => {
    const one = proxies.get('proxy-one')!;
    expect(one.discovery!.peers().map((peer) => peer.announcement.proxyId)).toEqual(['proxy-two']);
    // The fleet view (fleet.list, /api/status) lists this proxy and its peer from beacons alone.
    const fleet = one.fleetSummary();
    expect(fleet.shared).toBe(false);
    expect(fleet.nodes.map((node) => [node.id, node.self])).toEqual([['proxy-one', true], ['proxy-two', false]]);
    expect(fleet.nodes[1]?.addresses).toEqual([`${proxies.get('proxy-two')!.controlPlane!.url}/`]);
    const { body } = await one.metrics.exposition();
    expect(body).toContain('inteli_discovery_peers 1');
    expect(body).toMatch(/inteli_discovery_beacons_sent_total\{outcome="sent"\} [1-9]/);
    expect(body).toContain('inteli_discovery_datagrams_refused_total{socket="peers",reason="forged"} 0');
  });

  it('joins a third proxy started later', async () => {
    const discovered = new Promise<void>((resolve) => agent.once('proxy_discovered', () => resolve()));
    const three = await startClusterProxy('proxy-three');
    const registered = registeredWith(three);
    await discovered;
    await registered;
    expect((await send(three.addresses.http!.port, '/disc/x')).status).toBe(200);
  });

  it('keeps a healthy session when only the beacons stop (lost or blocked datagrams)', async () => {
    const three = proxies.get('proxy-three')!;
    const url = `${three.controlPlane!.url}/`;
    await three.discovery!.stop();
    // The agent emits nothing when it keeps a session, so its discovery view is polled (bounded).
    await waitUntil(() => !agent.discoveredProxies.some((proxy) => proxy.announcement.proxyId === 'proxy-three'), 15_000, 'proxy-three to go down in discovery', 50);
    expect(agent.proxies.find((proxy) => proxy.proxyUrl === url)?.registered).toBe(true);
    expect((await send(three.addresses.http!.port, '/disc/z')).status).toBe(200);
  });

  it('drops a proxy that stopped (no beacons, no session), keeps the others', async () => {
    const two = proxies.get('proxy-two')!;
    const url = `${two.controlPlane!.url}/`;
    const lost = new Promise<{ proxyUrl: string }>((resolve) => agent.on('proxy_lost', (info) => info.proxyUrl === url && resolve(info)));
    // proxy-three went quiet in the previous test, so proxy-one may report it too: wait for proxy-two.
    const peerRemoved = new Promise<FleetNode>((resolve) => proxies.get('proxy-one')!.on('node_removed', (node) => node.id === 'proxy-two' && resolve(node)));
    proxies.delete('proxy-two');
    await two.stop();
    await lost;
    expect((await peerRemoved).id).toBe('proxy-two');
    expect(agent.proxies.map((proxy) => proxy.proxyUrl)).not.toContain(url);
    expect((await send(proxies.get('proxy-one')!.addresses.http!.port, '/disc/y')).status).toBe(200);
  });

  it('refuses a fake proxy that an authenticated beacon points to but that cannot prove the secret', async () => {
    // The fake has its own key and no secret; it upgrades anything. The worst case is assumed: the
    // beacon pointing to it (sent here by a holder of the secret) even carries the fake's own pin.
    const fakeCert = await generateDevCertificate();
    const fake = https.createServer({ cert: fakeCert.cert, key: fakeCert.key });
    const wss = new WebSocketServer({ noServer: true, handleProtocols: () => 'inteli.v2' });
    let upgrades = 0;
    let frames = 0;
    fake.on('upgrade', (req, socket, head) => {
      upgrades += 1;
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', () => (frames += 1)));
    });
    await new Promise<void>((resolve) => fake.listen(0, LOOPBACK_INTERFACE, resolve));
    const fakeUrl = `wss://${LOOPBACK_INTERFACE}:${(fake.address() as AddressInfo).port}/`;
    const liar = new ProxyDiscovery({ ...discovery, peers: false, answerProbes: false }, { proxyId: 'proxy-fake', controlUrls: [fakeUrl], pin: publicKeyPin(fakeCert.cert) });
    const refused = new Promise<string>((resolve) => agent.on('error', (error, info) => info.proxyUrl === fakeUrl && resolve(`${error.code} ${error.message}`)));
    const retried = new Promise<string>((resolve) => agent.on('retrying', (info) => info.proxyUrl === fakeUrl && resolve(`${info.code} ${info.reason}`)));
    try {
      await liar.start();
      expect(await Promise.race([refused, retried])).toMatch(/^RP_ERR_TLS .*did not prove the cluster secret/);
      expect(upgrades).toBeGreaterThan(0);
      expect(frames).toBe(0);
      expect(agent.proxies.find((proxy) => proxy.proxyUrl === fakeUrl)?.registered).toBe(false);
    } finally {
      await liar.stop();
      for (const client of wss.clients) client.terminate();
      fake.closeAllConnections();
      await new Promise((resolve) => fake.close(resolve));
    }
  });
});
