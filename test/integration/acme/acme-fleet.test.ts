/**
 * ACME in a fleet: proxies given `trustStore: { redis }` keep their certificates in the fleet's Redis
 * without any `acme.storage` option, so one proxy obtains a certificate (pebble validating HTTP-01 on its
 * HTTP listener) and another proxy of the fleet serves it from its first handshake without ordering.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { RedisCertificateStorage } from '../../../src/proxy/acme/redis-certificate-storage.js';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { generateDevCertificate, type PemPair } from '../../../src/shared/tls/dev-certificate.js';
import { handshake } from '../../helpers/acme-handshake.js';
import { type DnsResponder, startDnsResponder } from '../../helpers/dns-responder.js';
import { type Pebble, HAS_PEBBLE, freePort, pebbleServerPair, startPebble } from '../../helpers/pebble.js';
import { RedisServerFixture } from '../../helpers/redis-server.js';

const NAME = 'fleet.example.test';
const PREFIX = 'acmefleet:';

let redis: RedisServerFixture;
let dns: DnsResponder;
let pebble: Pebble;
let fallback: PemPair;
let dir: string;
let acmeUrl: string;
let pebbleCa: string;
const proxies: ProxyServer[] = [];

const describeWithPebble = HAS_PEBBLE ? describe : describe.skip;

/** A proxy of the fleet: no control plane (keys are added through the store), ACME with no storage option. */
async function fleetProxy(nodeId: string): Promise<ProxyServer> {
  const proxy = new ProxyServer({
    host: '127.0.0.1',
    port: 0,
    tlsPort: 0,
    tls: fallback,
    control: false,
    shutdownTimeoutMs: 2000,
    certstore: path.join(dir, nodeId),
    trustStore: { redis: { url: redis.url, prefix: PREFIX, nodeId, streamBlockMs: 200, membershipTtlMs: 1000 } },
    acme: { directoryUrl: acmeUrl, pollIntervalMs: 50, retryMinMs: 100, caCertificates: pebbleCa },
  });
  proxies.push(proxy);
  await proxy.start();
  return proxy;
}

beforeAll(async () => {
  if (!HAS_PEBBLE) return;
  redis = await RedisServerFixture.start();
  dns = await startDnsResponder();
  dir = await mkdtemp(path.join(tmpdir(), 'acme-fleet-'));
  fallback = await generateDevCertificate();
  const acmePort = await freePort();
  const pebblePair = await pebbleServerPair();
  acmeUrl = `https://127.0.0.1:${acmePort}/dir`;
  pebbleCa = pebblePair.cert;
  // pebble validates HTTP-01 against the first proxy's HTTP listener (every name resolves to 127.0.0.1).
  const first = await fleetProxy('acme-a');
  pebble = await startPebble({ port: acmePort, httpPort: first.addresses.http?.port as number, dnsPort: dns.port, serverPair: pebblePair });
}, 30_000);

afterAll(async () => {
  for (const proxy of proxies.reverse()) await proxy.stop();
  await pebble?.stop();
  await dns?.close();
  await redis?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describeWithPebble('ACME in a fleet on Redis', () => {
  it("one proxy obtains a certificate into the fleet's Redis and another proxy serves it without ordering", async () => {
    const [first] = proxies as [ProxyServer];
    await first.trustStore?.add({ id: 'fleet-agent', publicKey: (await generateKeyPair()).publicJwk, scope: { rules: [`${NAME}/`] } });
    const root = await pebble.root();
    const obtained = await handshake(first.addresses.https?.port as number, NAME, root);
    expect(obtained.authorized).toBe(true);
    expect(first.certificates?.stats.issued).toBe(1);
    // Kept in Redis under the fleet's prefix, not in the proxy's certstore.
    expect(existsSync(path.join(dir, 'acme-a', 'acme'))).toBe(false);
    const storage = new RedisCertificateStorage({ url: redis.url, prefix: `${PREFIX}acme:` });
    try {
      expect(await storage.listCertificates()).toEqual([NAME]);
    } finally {
      await storage.close();
    }

    const second = await fleetProxy('acme-b');
    expect(second.certificates?.certificates().map((info) => info.name)).toEqual([NAME]);
    const served = await handshake(second.addresses.https?.port as number, NAME, root);
    expect(served.authorized).toBe(true);
    expect(served.certificate.serialNumber).toBe(obtained.certificate.serialNumber);
    expect(second.certificates?.stats.issued).toBe(0);
  }, 30_000);
});
