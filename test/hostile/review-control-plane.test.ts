/**
 * The control-plane and admin attacks of the outside security review (issue 14), replayed against the
 * fixes: rule churn by one low-privilege key followed by scrapes raced against data-plane requests, the
 * distinct-rules cap, a DNS-rebinding `Host` on the admin listener, a broad grant taking a host-bound
 * route, and tokens replayed to another proxy or captured by a man in the middle of an unverified
 * connection. Each case counts as a review attack in the summary; sizes and counts are asserted, never
 * times.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TrustStore } from '../../src/shared/trust/index.js';
import { STATUS_CLASSES } from '../../src/proxy/data-plane/traffic-stats.js';
import { ProxyServer } from '../../src/proxy/proxy-server.js';
import { resolveControlClientOptions } from '../../src/shared/control-client/client-options.js';
import { ControlDialer } from '../../src/shared/control-client/control-dialer.js';
import { generateKeyPair, type Ed25519PrivateJwk } from '../../src/shared/identity/key-pair.js';
import { signToken } from '../../src/shared/identity/sign-token.js';
import { silentLogger } from '../../src/shared/logger.js';
import type { KeyScope } from '../../src/shared/protocol.js';
import { generateDevCertificate, type PemPair } from '../../src/shared/tls/dev-certificate.js';
import { dial, tryDial, type ControlClient } from '../helpers/control-plane-client.js';
import { testCertificate } from '../helpers/control-plane-fixture.js';
import { startBackend, type TestBackend } from '../helpers/data-plane-backends.js';
import { send } from '../helpers/data-plane-client.js';
import { attack, note, tallyOne, useTally } from '../helpers/hostile-tally.js';

useTally();

interface Key {
  readonly id: string;
  readonly privateJwk: Ed25519PrivateJwk;
}

/** A proxy with a control plane and an admin listener on loopback port 0, over its own trust store. */
async function startReviewProxy(cert: PemPair, limits: Record<string, number>, admin: Record<string, unknown> = {}): Promise<{ proxy: ProxyServer; store: TrustStore }> {
  const store = TrustStore.inMemory();
  const proxy = new ProxyServer({
    host: '127.0.0.1',
    port: 0,
    shutdownTimeoutMs: 2000,
    trustStore: store,
    control: { host: '127.0.0.1', port: 0, tls: cert, heartbeatIntervalMs: 1000, limits: { messagesPerSecond: 10_000, burst: 10_000, ...limits } },
    admin: { host: '127.0.0.1', port: 0, sampleIntervalMs: 100, ...admin },
  });
  await proxy.start();
  return { proxy, store };
}

async function trust(store: TrustStore, id: string, scope: KeyScope): Promise<Key> {
  const { privateJwk, publicJwk } = await generateKeyPair(id);
  await store.add({ id, publicKey: publicJwk, scope });
  return { id, privateJwk };
}

function token(proxy: ProxyServer, key: Key, audience = proxy.controlPlane?.audience ?? ''): Promise<string> {
  return signToken(key.privateJwk, { subject: key.id, audience, ttlSeconds: 60 });
}

function portOf(proxy: ProxyServer, listener: 'http' | 'admin' | 'control'): number {
  return proxy.addresses[listener]?.port ?? 0;
}

function adminGet(proxy: ProxyServer, path: string, host?: string): ReturnType<typeof send> {
  return send(portOf(proxy, 'admin'), path, host === undefined ? {} : { headers: { host } });
}

let cert: PemPair;
let cappedCert: PemPair;
let main: ProxyServer;
let mainStore: TrustStore;
let capped: ProxyServer;
let cappedStore: TrustStore;
let echo: TestBackend;
let owner: TestBackend;
let broad: TestBackend;
const clients: ControlClient[] = [];

beforeAll(async () => {
  cert = await testCertificate();
  echo = await startBackend('echo');
  owner = await startBackend('owner');
  broad = await startBackend('broad');
  // The churn reproduction needs the distinct-rules cap out of the way, to show state is freed anyway.
  ({ proxy: main, store: mainStore } = await startReviewProxy(cert, { maxDistinctRulesPerKey: 1_000_000 }));
  // Another proxy, with its own certificate (so its own audience) and the default cap.
  cappedCert = await generateDevCertificate();
  ({ proxy: capped, store: cappedStore } = await startReviewProxy(cappedCert, {}, { allowedHosts: ['proxy.internal'] }));
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await main.stop();
  await capped.stop();
  await Promise.all([echo.close(), owner.close(), broad.close()]);
});

function register(client: ControlClient, rules: unknown[], port: number): ReturnType<ControlClient['request']> {
  return client.request({ type: 'register', targets: [{ host: '127.0.0.1', port, protocol: 'http' }], rules });
}

describe('issue 14: state that is never freed', () => {
  it('fix-issue-14-rule-churn-state: 150 re-registrations of new sub-rules leave only the live rules in stats, /metrics and /api/status', async () => {
    await attack('rule churn then scrape', async () => {
      const key = await trust(mainStore, 'churner', { rules: ['/mine'], hosts: ['127.0.0.1'] });
      const client = await dial(main.controlPlane!.url, { ca: cert.cert, token: await token(main, key) });
      clients.push(client);
      for (let round = 0; round < 150; round += 1) {
        const rules = Array.from({ length: 32 }, (_, index) => `/mine/${round}/${index}`);
        expect(await register(client, rules, echo.port)).toMatchObject({ type: 'ack' });
        if (round % 15 === 0) {
          expect((await send(portOf(main, 'http'), `/mine/${round}/1`)).status).toBe(200);
          tallyOne(true);
        }
      }
      // 4,800 rules were registered over time; 32 are live.
      expect(main.dataPlane.stats.size).toBe(32);
      // A scrape and a status read raced against data-plane requests: all answered.
      const [metrics, status, ...requests] = await Promise.all([
        adminGet(main, '/metrics'),
        adminGet(main, '/api/status'),
        ...Array.from({ length: 5 }, () => send(portOf(main, 'http'), '/mine/149/0')),
      ]);
      for (let index = 0; index < 7; index += 1) tallyOne(true);
      expect(metrics.status).toBe(200);
      expect(status.status).toBe(200);
      expect(requests.map((response) => response.status)).toEqual([200, 200, 200, 200, 200]);
      const series = metrics.body.split('\n').filter((line) => line.startsWith('inteli_requests_total{'));
      // One series per live rule and status class (issue 13 added `cut`), none for the 4,768 gone rules.
      expect(series.length).toBeLessThanOrEqual(32 * STATUS_CLASSES.length);
      // Before the fix: 104 MB of metrics and 70 MB of status for 69,120 rules.
      expect(metrics.body.length).toBeLessThan(300_000);
      expect(status.body.length).toBeLessThan(1_000_000);
      const report = JSON.parse(status.body) as { rules: unknown[]; rates: { samples: { rules: Record<string, number> }[] } };
      expect(report.rules).toHaveLength(32);
      const latest = report.rates.samples.at(-1);
      expect(Object.keys(latest?.rules ?? {}).length).toBeLessThanOrEqual(32);
      note(
        `rule churn (issue 14): 4800 rules registered by one key, ${main.dataPlane.stats.size} kept; /metrics ${Math.round(metrics.body.length / 1024)} KiB ` +
          `(${series.length} request series), /api/status ${Math.round(status.body.length / 1024)} KiB; 5 data-plane requests raced against the scrape: all 200`,
      );
    });
  });

  it('fix-issue-14-distinct-rules-cap: a key that churns past the cap is refused and keeps its live routes', async () => {
    await attack('rule churn past the cap', async () => {
      const key = await trust(cappedStore, 'churner', { rules: ['/mine'], hosts: ['127.0.0.1'] });
      const verified = await dial(capped.controlPlane!.url, { ca: cappedCert.cert, token: await token(capped, key) });
      clients.push(verified);
      for (let round = 0; round < 8; round += 1) {
        const rules = Array.from({ length: 32 }, (_, index) => `/mine/${round}/${index}`);
        expect(await register(verified, rules, echo.port)).toMatchObject({ type: 'ack' });
      }
      const refused = await register(verified, ['/mine/8/0'], echo.port);
      expect(refused).toMatchObject({ type: 'error', code: 'RP_ERR_LIMIT_EXCEEDED' });
      expect(refused.message).toContain('maxDistinctRulesPerKey');
      expect((await send(portOf(capped, 'http'), '/mine/7/0')).status).toBe(200);
      tallyOne(true);
    });
  });
});

describe('issue 14: DNS rebinding of the admin listener', () => {
  it('fix-issue-14-dns-rebinding: a foreign Host gets 421 on the data endpoints; loopback and allowed names pass', async () => {
    await attack('rebinding Host on the admin listener', async () => {
      const port = portOf(main, 'admin');
      for (const path of ['/api/status', '/metrics', '/']) {
        const rebound = await adminGet(main, path, `rebind.attacker.example:${port}`);
        expect({ path, status: rebound.status }).toEqual({ path, status: 421 });
        expect(rebound.body).not.toContain('churner');
      }
      expect((await adminGet(main, '/healthz', 'rebind.attacker.example')).status).toBe(200);
      expect((await adminGet(main, '/api/status', `127.0.0.1:${port}`)).status).toBe(200);
      expect((await adminGet(main, '/api/status', `localhost:${port}`)).status).toBe(200);
      expect((await adminGet(main, '/api/status', `[::1]:${port}`)).status).toBe(200);
      expect((await adminGet(capped, '/api/status', `proxy.internal:${portOf(capped, 'admin')}`)).status).toBe(200);
      expect((await adminGet(capped, '/api/status', 'other.internal')).status).toBe(421);
      for (let index = 0; index < 10; index += 1) tallyOne(true);
    });
  });
});

describe('issue 14: a broad grant and a host-bound route', () => {
  it('fix-issue-14-host-bound-takeover: a key granted /v1 cannot claim api.example.com/v1/login from the key granted api.example.com/v1', async () => {
    await attack('host-bound takeover', async () => {
      const ownerKey = await trust(mainStore, 'owner', { rules: ['api.example.com/v1'], hosts: ['127.0.0.1'] });
      const broadKey = await trust(mainStore, 'broad', { rules: ['/v1'], hosts: ['127.0.0.1'] });
      const ownerClient = await dial(main.controlPlane!.url, { ca: cert.cert, token: await token(main, ownerKey) });
      const broadClient = await dial(main.controlPlane!.url, { ca: cert.cert, token: await token(main, broadKey) });
      clients.push(ownerClient, broadClient);
      expect(await register(ownerClient, ['api.example.com/v1'], owner.port)).toMatchObject({ type: 'ack' });
      const refused = await register(broadClient, [{ host: 'api.example.com', path: '/v1/login' }], broad.port);
      expect(refused).toMatchObject({ type: 'error', code: 'RP_ERR_OUT_OF_SCOPE' });
      const answers = new Set<string>();
      for (let index = 0; index < 10; index += 1) {
        const response = await send(portOf(main, 'http'), '/v1/login', { headers: { host: 'api.example.com' } });
        tallyOne(true);
        answers.add((JSON.parse(response.body) as { name: string }).name);
      }
      expect([...answers]).toEqual(['owner']);
      // Saying so explicitly (scope.anyHost) is the only way for a host-less grant to bind a host.
      const anyKey = await trust(mainStore, 'broad-any', { rules: ['/v2'], hosts: ['127.0.0.1'], anyHost: true });
      const anyClient = await dial(main.controlPlane!.url, { ca: cert.cert, token: await token(main, anyKey) });
      clients.push(anyClient);
      expect(await register(anyClient, [{ host: 'api.example.com', path: '/v2/x' }], broad.port)).toMatchObject({ type: 'ack' });
    });
  });
});

describe('issue 14: token audience', () => {
  it('fix-issue-14-token-replay-across-proxies: a token for one proxy is refused by another trusting the same key', async () => {
    await attack('token replayed to another proxy', async () => {
      const { privateJwk, publicJwk } = await generateKeyPair('shared');
      await mainStore.add({ id: 'shared', publicKey: publicJwk, scope: { rules: ['/shared'] } });
      await cappedStore.add({ id: 'shared', publicKey: publicJwk, scope: { rules: ['/shared'] } });
      expect(main.controlPlane!.audience).not.toBe(capped.controlPlane!.audience);
      const forCapped = await token(capped, { id: 'shared', privateJwk });
      const replayed = await tryDial(main.controlPlane!.url, { ca: cert.cert, token: forCapped });
      tallyOne(true);
      expect(replayed).toMatchObject({ ok: false, status: 401 });
    });
  });

  it('fix-issue-14-token-captured-by-mitm: an agent dialling an impostor without verification hands over a token the real proxy refuses', async () => {
    await attack('token captured over an insecure connection', async () => {
      const { privateJwk, publicJwk } = await generateKeyPair('careless');
      await mainStore.add({ id: 'careless', publicKey: publicJwk, scope: { rules: ['/c'] } });
      const captured: string[] = [];
      const impostor: HttpsServer = createHttpsServer(await generateDevCertificate());
      impostor.on('upgrade', (req, socket) => {
        captured.push(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
        socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      });
      await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
      try {
        const url = `wss://127.0.0.1:${(impostor.address() as AddressInfo).port}`;
        const dialer = new ControlDialer(resolveControlClientOptions({ proxyUrl: url, key: privateJwk, insecure: true }), 'careless', silentLogger());
        await dialer.prepare();
        await expect(dialer.dial()).rejects.toMatchObject({ code: 'RP_ERR_UNAUTHORIZED' });
        expect(captured).toHaveLength(1);
        const replayed = await tryDial(main.controlPlane!.url, { ca: cert.cert, token: captured[0] });
        tallyOne(true);
        expect(replayed).toMatchObject({ ok: false, status: 401 });
        // The same agent, dialling the real proxy, learns its audience from the certificate and gets in.
        const real = new ControlDialer(resolveControlClientOptions({ proxyUrl: main.controlPlane!.url, key: privateJwk, ca: cert.cert }), 'careless', silentLogger());
        await real.prepare();
        const connection = await real.dial();
        tallyOne(true);
        expect(connection.isOpen).toBe(true);
        await connection.close();
      } finally {
        impostor.closeAllConnections();
        await new Promise<void>((resolve) => impostor.close(() => resolve()));
      }
    });
  });
});
