/**
 * Secret rotation on loopback: in the middle of a rollout, a proxy still on the old secret and a proxy
 * already on the new one, and an agent holding both. The agent finds, authenticates and registers with
 * both (it proves the secret with the key each proxy's own beacon was sealed with), so nobody loses a
 * session while the secret changes.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { TrustStore } from '../../../src/shared/trust/index.js';
import { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import { testCertificate } from '../../helpers/control-plane-fixture.js';
import { send, startProxy } from '../../helpers/data-plane-client.js';
import { freeUdpPort, LOOPBACK_INTERFACE, loopbackOptions, newSecret } from '../../helpers/discovery-loopback.js';

const oldSecret = newSecret();
const nextSecret = newSecret();
const proxies: ProxyServer[] = [];
let agent: ProxyWebServer | undefined;
let backend: http.Server;
let discovery: ReturnType<typeof loopbackOptions>;

beforeAll(async () => {
  discovery = loopbackOptions(oldSecret, { port: await freeUdpPort(), intervalMs: 200, lifetimeIntervals: 5 });
  backend = http.createServer((_req, res) => res.end('rotated'));
  await new Promise<void>((resolve) => backend.listen(0, LOOPBACK_INTERFACE, resolve));
});

afterAll(async () => {
  await agent?.stop();
  await Promise.all(proxies.map((proxy) => proxy.stop()));
  await new Promise((resolve) => backend.close(resolve));
});

describe('cluster secret rotation', () => {
  it('an agent holding new and old registers with a proxy still on old and one already on new', async () => {
    const key = await generateKeyPair('rot-agent');
    for (const [proxyId, secret] of [['proxy-old', oldSecret], ['proxy-new', nextSecret]] as const) {
      const trustStore = TrustStore.inMemory();
      await trustStore.add({ id: 'rot-agent', publicKey: key.publicJwk, scope: { rules: ['/rot'], hosts: [LOOPBACK_INTERFACE] } });
      const { proxy } = await startProxy({
        trustStore,
        control: { host: LOOPBACK_INTERFACE, port: 0, tls: await testCertificate(), heartbeatIntervalMs: 1000 },
        discovery: { ...discovery, secret, proxyId },
      });
      proxies.push(proxy);
    }
    agent = new ProxyWebServer({ agentId: 'rot-agent', key: key.privateJwk, server: backend, rules: ['/rot'], drainTimeoutMs: 1000, discovery: { ...discovery, secret: [nextSecret, oldSecret] } });
    const urls = new Set(proxies.map((proxy) => `${proxy.controlPlane!.url}/`));
    const registered = new Promise<void>((resolve) => {
      agent!.on('registered', (info) => {
        urls.delete(info.proxyUrl);
        if (urls.size === 0) resolve();
      });
    });
    await agent.start();
    await registered;
    for (const proxy of proxies) expect((await send(proxy.addresses.http!.port, '/rot/a')).body).toBe('rotated');
  });
});
