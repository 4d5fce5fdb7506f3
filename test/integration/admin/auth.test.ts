/**
 * Admin access with auth required. Only loopback is ever bound: `requireAuth: true` on 127.0.0.1 is the
 * same code path a non-loopback host takes (where it cannot be turned off).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { DEFAULT_ADMIN_AUDIENCE } from '../../../src/proxy/admin/admin-options.js';
import { TrustStore } from '../../../src/shared/trust/index.js';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { generateKeyPair, type Ed25519PrivateJwk } from '../../../src/shared/identity/key-pair.js';
import { signToken } from '../../../src/shared/identity/sign-token.js';
import { startProxy } from '../../helpers/data-plane-client.js';
import { adminGet, sample, scrape } from './admin-client.js';

let proxy: ProxyServer;
let trustStore: TrustStore;
let adminKey: Ed25519PrivateJwk;
let agentKey: Ed25519PrivateJwk;

beforeAll(async () => {
  trustStore = TrustStore.inMemory();
  const admin = await generateKeyPair('ops');
  const agent = await generateKeyPair('WEB1');
  await trustStore.add({ id: 'ops', publicKey: admin.publicJwk, role: 'admin' });
  await trustStore.add({ id: 'WEB1', publicKey: agent.publicJwk });
  adminKey = admin.privateJwk;
  agentKey = agent.privateJwk;
  ({ proxy } = await startProxy({ trustStore, admin: { host: '127.0.0.1', port: 0, requireAuth: true } }));
});

afterAll(async () => {
  await proxy.stop();
});

const adminToken = (audience = DEFAULT_ADMIN_AUDIENCE): Promise<string> => signToken(adminKey, { subject: 'ops', audience });

describe('admin listener with auth required', () => {
  it('answers /healthz, /readyz and the page shell without a token', async () => {
    expect((await adminGet(proxy, '/healthz')).status).toBe(200);
    expect((await adminGet(proxy, '/readyz')).status).toBe(200);
    expect((await adminGet(proxy, '/')).status).toBe(200);
  });

  it('refuses /metrics and /api/status without a token with 401 and a Bearer challenge', async () => {
    for (const path of ['/metrics', '/api/status']) {
      const response = await adminGet(proxy, path);
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer /);
      expect(JSON.parse(response.body)).toMatchObject({ error: 'UNAUTHORIZED' });
    }
  });

  it('refuses a malformed or forged token with 401', async () => {
    expect((await adminGet(proxy, '/api/status', 'not-a-jwt')).status).toBe(401);
    const forged = (await adminToken()).replace(/.{4}$/, 'AAAA');
    expect((await adminGet(proxy, '/api/status', forged)).status).toBe(401);
  });

  it('refuses a token signed for the control plane audience (tokens do not cross listeners)', async () => {
    expect((await adminGet(proxy, '/api/status', await adminToken('inteli-proxy'))).status).toBe(401);
  });

  it('refuses an agent key with 403', async () => {
    const token = await signToken(agentKey, { subject: 'WEB1', audience: DEFAULT_ADMIN_AUDIENCE });
    const response = await adminGet(proxy, '/api/status', token);
    expect(response.status).toBe(403);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'FORBIDDEN' });
  });

  it('accepts an admin token, again within its lifetime, for the status API and metrics', async () => {
    const token = await adminToken();
    const first = await adminGet(proxy, '/api/status', token);
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body)).toMatchObject({ proxy: { authRequired: true } });
    expect((await adminGet(proxy, '/api/status', token)).status).toBe(200);
    const text = await scrape(proxy, token);
    expect(sample(text, 'inteli_admin_auth_failures_total', { reason: 'missing' })).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'inteli_admin_auth_failures_total', { reason: 'forbidden' })).toBeGreaterThanOrEqual(1);
  });

  it('refuses the token of a key removed from the trust store at once', async () => {
    const { privateJwk, publicJwk } = await generateKeyPair('ops2');
    await trustStore.add({ id: 'ops2', publicKey: publicJwk, role: 'admin' });
    const token = await signToken(privateJwk, { subject: 'ops2', audience: DEFAULT_ADMIN_AUDIENCE });
    expect((await adminGet(proxy, '/api/status', token)).status).toBe(200);
    await trustStore.remove('ops2');
    expect((await adminGet(proxy, '/api/status', token)).status).toBe(401);
  });
});

describe('admin listener with auth required and no trust store', () => {
  it('fails closed with 401', async () => {
    const bare = await startProxy({ admin: { host: '127.0.0.1', port: 0, requireAuth: true } });
    try {
      const response = await adminGet(bare.proxy, '/metrics', await adminToken());
      expect(response.status).toBe(401);
      expect(JSON.parse(response.body).message).toMatch(/no trust store/);
    } finally {
      await bare.proxy.stop();
    }
  });
});
