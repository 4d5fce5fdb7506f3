/**
 * Clients at scale (issue 18), measured once by hand, not a timed test:
 *
 *   tsc -p tsconfig.bench.json && node dist/bench-build/bench/clients-at-scale.js [--keys 1000] [--agents 500] [--memory]
 *
 * 1. Bulk provisioning: `ProxySysAdmin.addPublicKeys` of `--keys` fresh keys through a real proxy whose
 *    trust store is the file store (as `npm start` runs it; `--memory` for the in-memory store).
 * 2. First-start storm: `--agents` agents (sidecar style, no server of their own) started at once with
 *    the proxy's default limits; the time until every `start()` resolved, and the retries by reason.
 *
 * The proxy runs in this process, on loopback, so both sides share the CPU.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { TrustStore } from '../src/shared/trust/trust-store.js';
import { ProxyServer } from '../src/proxy/proxy-server.js';
import { generateKeyPair, type Ed25519PrivateJwk } from '../src/shared/identity/key-pair.js';
import { generateDevCertificate } from '../src/shared/tls/dev-certificate.js';
import { ProxySysAdmin } from '../src/sysadmin/proxy-sysadmin.js';
import { ProxyWebServer } from '../src/webserver-agent/proxy-web-server.js';

const { values } = parseArgs({ options: { keys: { type: 'string' }, agents: { type: 'string' }, memory: { type: 'boolean' } } });
const KEYS = Number(values.keys ?? 1000);
const AGENTS = Math.min(Number(values.agents ?? 500), KEYS);

const dir = await mkdtemp(path.join(tmpdir(), 'inteli-clients-at-scale-'));
const trustStore = values.memory === true ? TrustStore.inMemory() : await TrustStore.open(dir);
const admin = await generateKeyPair('bench-admin');
await trustStore.add({ id: 'bench-admin', publicKey: admin.publicJwk, role: 'admin' });
const proxy = new ProxyServer({ host: '127.0.0.1', port: 0, trustStore, control: { host: '127.0.0.1', port: 0, tls: await generateDevCertificate() } });
await proxy.start();
const backend = http.createServer((_req, res) => res.end('ok'));
await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
const backendPort = (backend.address() as AddressInfo).port;

const pairs: Array<{ id: string; privateJwk: Ed25519PrivateJwk; publicKey: Record<string, unknown> }> = [];
for (let i = 0; i < KEYS; i += 1) {
  const id = `bench-agent-${i}`;
  const pair = await generateKeyPair(id);
  pairs.push({ id, privateJwk: pair.privateJwk, publicKey: { ...pair.publicJwk } });
}

const sysadmin = new ProxySysAdmin({ proxyUrl: proxy.controlPlane!.url, adminId: 'bench-admin', key: admin.privateJwk, pin: proxy.pin });
await sysadmin.start();
const importStarted = performance.now();
const results = await sysadmin.addPublicKeys(pairs.map(({ id, publicKey }) => ({ id, publicKey, rules: ['/api'] })));
const importMs = Math.round(performance.now() - importStarted);
await sysadmin.stop();

const agents = pairs.slice(0, AGENTS).map(
  ({ id, privateJwk }) =>
    new ProxyWebServer({ proxyUrl: proxy.controlPlane!.url, agentId: id, key: privateJwk, rules: ['/api'], target: { host: '127.0.0.1', port: backendPort }, pin: proxy.pin }),
);
const retries: Record<string, number> = {};
for (const agent of agents) {
  agent.on('error', () => undefined);
  agent.on('retrying', ({ code }) => (retries[code] = (retries[code] ?? 0) + 1));
}
const stormStarted = performance.now();
const outcomes = await Promise.allSettled(agents.map((agent) => agent.start()));
const stormMs = Math.round(performance.now() - stormStarted);

console.log(
  JSON.stringify(
    {
      trustStore: values.memory === true ? 'memory' : 'file',
      import: { keys: KEYS, added: results.filter((result) => result.status === 'added').length, ms: importMs },
      firstStartStorm: { agents: AGENTS, registered: outcomes.filter((outcome) => outcome.status === 'fulfilled').length, ms: stormMs, retries },
    },
    null,
    2,
  ),
);

await Promise.all(agents.map((agent) => agent.stop()));
await proxy.stop();
backend.close();
await rm(dir, { recursive: true, force: true });
