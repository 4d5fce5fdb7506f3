/**
 * The review's high finding (issue 14, item 1): a low-privilege agent key (the README's `--rule /api`,
 * no `--host`), dialling from loopback, registered the admin port as its target, and anyone reaching the
 * data plane read `/api/status` and `/metrics`. Replayed here: the registration is refused (a loopback
 * agent needs its port granted, and the proxy's own listeners are refused for every key), and a route to
 * the admin listener that bypasses the control plane still gets no loopback trust (the request carries
 * the proxy's Via).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { ProxyServer } from '../../src/proxy/proxy-server.js';
import { generateKeyPair, type Ed25519PrivateJwk } from '../../src/shared/identity/key-pair.js';
import { signToken } from '../../src/shared/identity/sign-token.js';
import type { KeyScope } from '../../src/shared/protocol.js';
import { TrustStore } from '../../src/shared/trust/index.js';
import type { PemPair } from '../../src/shared/tls/dev-certificate.js';
import { dial, type ControlClient } from '../helpers/control-plane-client.js';
import { testCertificate } from '../helpers/control-plane-fixture.js';
import { startBackend, type TestBackend } from '../helpers/data-plane-backends.js';
import { send } from '../helpers/data-plane-client.js';
import { attack, tallyOne, useTally } from '../helpers/hostile-tally.js';

useTally();

let cert: PemPair;
let proxy: ProxyServer;
let store: TrustStore;
let service: TestBackend;
let other: TestBackend;
const clients: ControlClient[] = [];

function port(listener: 'http' | 'admin' | 'control'): number {
  return proxy.addresses[listener]?.port ?? 0;
}

async function agent(id: string, scope: KeyScope): Promise<ControlClient> {
  const { privateJwk, publicJwk } = await generateKeyPair(id);
  await store.add({ id, publicKey: publicJwk, scope });
  const token = await signToken(privateJwk as Ed25519PrivateJwk, { subject: id, audience: proxy.controlPlane?.audience ?? '', ttlSeconds: 60 });
  const client = await dial(proxy.controlPlane!.url, { ca: cert.cert, token });
  clients.push(client);
  return client;
}

function register(client: ControlClient, host: string, targetPort: number, rule = '/api'): ReturnType<ControlClient['request']> {
  return client.request({ type: 'register', targets: [{ host, port: targetPort, protocol: 'http' }], rules: [rule] });
}

beforeAll(async () => {
  cert = await testCertificate();
  store = TrustStore.inMemory();
  service = await startBackend('service');
  other = await startBackend('other-local-service');
  proxy = new ProxyServer({
    host: '127.0.0.1',
    port: 0,
    shutdownTimeoutMs: 2000,
    trustStore: store,
    control: { host: '127.0.0.1', port: 0, tls: cert, heartbeatIntervalMs: 1000 },
    admin: { host: '127.0.0.1', port: 0 },
  });
  await proxy.start();
  await store.add({ id: 'ops', publicKey: (await generateKeyPair('ops')).publicJwk, role: 'admin' });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await proxy.stop();
  await service.close();
  await other.close();
});

describe('issue 14: an agent publishing the proxy\'s own services', () => {
  it('fix-issue-14-loopback-agent-without-hosts: the README\'s --rule /api key on loopback may name no loopback port', async () => {
    await attack('loopback agent registers the admin port', async () => {
      const client = await agent('readme-api', { rules: ['/api'] });
      for (const target of [port('admin'), port('http'), port('control'), service.port]) {
        const reply = await register(client, '127.0.0.1', target);
        expect({ target, reply: reply.type, code: reply.code }).toEqual({ target, reply: 'error', code: 'RP_ERR_OUT_OF_SCOPE' });
      }
      expect((await send(port('http'), '/api/status')).status).toBe(403);
      tallyOne(true);
    });
  });

  it('fix-issue-14-own-listeners: even a key granted all of loopback cannot name the data, control or admin listener, by any spelling', async () => {
    await attack('broad loopback grant registers the proxy\'s listeners', async () => {
      const client = await agent('loopback-all', { rules: ['/api'], hosts: ['127.0.0.1', '::1', 'localhost', '0.0.0.0', '127.0.0.0/8'] });
      const spellings = ['127.0.0.1', 'localhost', 'LOCALHOST.', '0.0.0.0', '::ffff:127.0.0.1'];
      for (const listener of ['admin', 'http', 'control'] as const) {
        for (const host of spellings) {
          const reply = await register(client, host, port(listener));
          expect({ listener, host, code: reply.code, own: String(reply.message).includes('own listeners') }).toEqual({ listener, host, code: 'RP_ERR_OUT_OF_SCOPE', own: true });
        }
      }
      // Its own service on loopback is fine.
      expect(await register(client, '127.0.0.1', service.port)).toMatchObject({ type: 'ack' });
      expect((await send(port('http'), '/api/x')).status).toBe(200);
      tallyOne(true);
    });
  });

  it('fix-issue-14-granted-port: a key granted 127.0.0.1:<its port> may name that port only', async () => {
    await attack('port-scoped grant names another local service', async () => {
      const client = await agent('one-port', { rules: ['/one'], hosts: [`127.0.0.1:${service.port}`] });
      expect(await register(client, '127.0.0.1', other.port, '/one')).toMatchObject({ type: 'error', code: 'RP_ERR_OUT_OF_SCOPE' });
      expect(await register(client, '127.0.0.1', service.port, '/one')).toMatchObject({ type: 'ack' });
    });
  });

  it('fix-issue-14-forwarded-admin-request: a route to the admin port made outside the control plane gets no loopback trust', async () => {
    await attack('data-plane request forwarded to the admin listener', async () => {
      // An embedder's route (or a name that rebinds to loopback after registration) to the admin port.
      const backend = proxy.registry.add({ agentId: 'rebound', targets: [{ protocol: 'http', host: '127.0.0.1', port: port('admin') }], rules: [{ path: '/metrics' }, { path: '/api/status' }] });
      try {
        for (const path of ['/api/status', '/metrics']) {
          const response = await send(port('http'), path);
          tallyOne(true);
          expect({ path, status: response.status }).toEqual({ path, status: 401 });
          expect(response.body).not.toContain('"keys"');
          expect(response.body).not.toContain('inteli_');
        }
        // The admin listener still trusts a real local caller.
        expect((await send(port('admin'), '/api/status')).status).toBe(200);
        tallyOne(true);
      } finally {
        proxy.registry.remove(backend.id, 'left');
      }
    });
  });
});
