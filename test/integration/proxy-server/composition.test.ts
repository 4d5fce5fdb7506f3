/**
 * `ProxyServer` as a whole: the data plane and the control plane started and stopped together, events
 * re-emitted, a failed start leaving no listener behind, and the file trust store watched so that an
 * offline `inteli-sysadmin` edit reaches the running proxy.
 */
import http from 'node:http';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { TrustStore } from '../../../src/shared/trust/index.js';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';
import type { Backend, RemovalReason } from '../../../src/proxy/registry/backend.js';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import { nextEvent, testCertificate } from '../../helpers/control-plane-fixture.js';
import { send } from '../../helpers/data-plane-client.js';
import { closedPort } from '../../helpers/data-plane-backends.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function proxyWith(options: ConstructorParameters<typeof ProxyServer>[0] = {}): Promise<ProxyServer> {
  const proxy = new ProxyServer({
    host: '127.0.0.1',
    port: 0,
    tls: await testCertificate(),
    tlsPort: 0,
    trustStore: TrustStore.inMemory(),
    control: { host: '127.0.0.1', port: 0, heartbeatIntervalMs: 1000 },
    ...options,
  });
  cleanup.push(() => proxy.stop());
  return proxy;
}

async function agentFor(proxy: ProxyServer, store: TrustStore, id: string, rule: string): Promise<ProxyWebServer> {
  const { privateJwk, publicJwk } = await generateKeyPair(id);
  await store.add({ id, publicKey: publicJwk, scope: { rules: [rule], hosts: ['127.0.0.1'] } });
  const agent = new ProxyWebServer({
    proxyUrl: `wss://127.0.0.1:${proxy.addresses.control!.port}`,
    agentId: id,
    key: privateJwk,
    server: http.createServer((_req, res) => res.end(id)),
    rules: [rule],
    pin: proxy.pin,
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  cleanup.push(() => agent.stop());
  return agent;
}

describe('ProxyServer with its control plane', () => {
  it('reports the http, https and control addresses and the certificate pin', async () => {
    const proxy = await proxyWith();
    const addresses = await proxy.start();
    expect(addresses.http?.port).toBeGreaterThan(0);
    expect(addresses.https?.port).toBeGreaterThan(0);
    expect(addresses.control?.port).toBeGreaterThan(0);
    expect(proxy.pin).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(proxy.controlPlane?.state).toBe('RUNNING');
  });

  it('re-emits backend_added and backend_removed for an agent, and routes to it in between', async () => {
    const store = TrustStore.inMemory();
    const proxy = await proxyWith({ trustStore: store });
    await proxy.start();
    const agent = await agentFor(proxy, store, 'WEB001', '/api');
    const added = nextEvent<[Backend]>(proxy, 'backend_added');
    await agent.start();
    expect((await added)[0]).toMatchObject({ agentId: 'WEB001', rules: [{ path: '/api' }] });
    expect((await send(proxy.addresses.http!.port, '/api/x')).body).toBe('WEB001');
    const removed = nextEvent<[Backend, RemovalReason]>(proxy, 'backend_removed');
    await agent.stop();
    expect((await removed)[1]).toBe('drained');
  });

  it('stops the data plane again when the control port is taken, leaving no listener behind', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => blocker.close(resolve)));
    const taken = (blocker.address() as net.AddressInfo).port;
    // Known data-plane ports (free a moment ago), so the test can check that they are free again.
    const httpPort = await closedPort();
    const httpsPort = await closedPort();
    const proxy = await proxyWith({ port: httpPort, tlsPort: httpsPort, control: { host: '127.0.0.1', port: taken } });
    await expect(proxy.start()).rejects.toMatchObject({ code: 'RP_ERR_LISTEN' });
    expect(proxy.dataPlane.state).toBe('stopped');
    // No listener is left: both data-plane ports can be bound again, and nothing answers on them.
    for (const port of [httpPort, httpsPort]) {
      await expect(send(port, '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      const probe = net.createServer();
      await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(port, '127.0.0.1', resolve));
      await new Promise((resolve) => probe.close(resolve));
    }
    await expect(proxy.stop()).resolves.toBeUndefined();
  });

  it('rejects start() with a clear error when the trust store file is corrupt', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'inteli-store-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(dir, 'trust-store.json'), '{ not json', { mode: 0o600 });
    const proxy = new ProxyServer({ host: '127.0.0.1', port: 0, tls: await testCertificate(), tlsPort: 0, certstore: dir, control: { host: '127.0.0.1', port: 0 } });
    cleanup.push(() => proxy.stop());
    await expect(proxy.start()).rejects.toMatchObject({ code: 'RP_ERR_TRUST_STORE' });
    expect(proxy.dataPlane.state).toBe('stopped');
  });

  it('lets in an agent whose key another process adds to the certstore file while it runs', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'inteli-store-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const proxy = new ProxyServer({ host: '127.0.0.1', port: 0, tls: await testCertificate(), tlsPort: 0, certstore: dir, control: { host: '127.0.0.1', port: 0 } });
    cleanup.push(() => proxy.stop());
    await proxy.start();
    // A second handle on the same file stands for `inteli-sysadmin keys add` run offline.
    const offline = await TrustStore.open(dir);
    const seen = nextEvent(proxy.trustStore!, 'added');
    const agent = await agentFor(proxy, offline, 'WEB009', '/late');
    await seen;
    await agent.start();
    expect((await send(proxy.addresses.http!.port, '/late')).body).toBe('WEB009');
  });

  it('brings every route back after a proxy restart on the same ports, without restarting the backend', async () => {
    const store = TrustStore.inMemory();
    const first = await proxyWith({ trustStore: store });
    const { http: httpAddress, control } = await first.start();
    const agent = await agentFor(first, store, 'WEB010', '/again');
    await agent.start();
    const reconnecting = nextEvent(agent, 'reconnecting');
    await first.stop();
    await reconnecting;

    const second = await proxyWith({
      trustStore: store,
      port: httpAddress!.port,
      control: { host: '127.0.0.1', port: control!.port, heartbeatIntervalMs: 1000 },
    });
    const added = nextEvent(second, 'backend_added');
    await second.start();
    await added;
    expect((await send(httpAddress!.port, '/again')).body).toBe('WEB010');
  });
});
