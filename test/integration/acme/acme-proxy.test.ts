/**
 * ACME end to end against Debian's pebble: the proxy obtains a certificate on the first handshake for a
 * name some trusted key's scope allows, pebble really validating HTTP-01 against the proxy's HTTP
 * listener (names resolve to 127.0.0.1 through a tiny DNS responder), and serves its fallback certificate
 * for a name outside every scope without ordering anything.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { type IncomingMessage, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProxyServer } from '../../../src/index.js';
import { TrustStore } from '../../../src/shared/trust/index.js';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { generateDevCertificate } from '../../../src/shared/tls/dev-certificate.js';
import { handshake } from '../../helpers/acme-handshake.js';
import { type DnsResponder, startDnsResponder } from '../../helpers/dns-responder.js';
import { type Pebble, HAS_PEBBLE, freePort, pebbleServerPair, startPebble } from '../../helpers/pebble.js';

const ALLOWED = 'api.example.test';

let dns: DnsResponder;
let pebble: Pebble;
let proxy: ProxyServer;
let certstore: string;
let fallbackCert: string;

const describeWithPebble = HAS_PEBBLE ? describe : describe.skip;

beforeAll(async () => {
  if (!HAS_PEBBLE) return;
  certstore = await mkdtemp(path.join(tmpdir(), 'acme-proxy-'));
  dns = await startDnsResponder();
  const trustStore = TrustStore.inMemory();
  const { publicJwk } = await generateKeyPair();
  await trustStore.add({ id: 'api-agent', publicKey: publicJwk, scope: { rules: [`${ALLOWED}/v1`, 'www.example.test/', '/shared'] } });
  const fallback = await generateDevCertificate();
  fallbackCert = fallback.cert;
  // pebble needs the proxy's HTTP port and the proxy needs pebble's URL: bind the proxy first with a
  // directory URL on a port chosen now, then start pebble on that port.
  const acmePort = await freePort();
  const pebblePair = await pebbleServerPair();
  proxy = new ProxyServer({
    host: '127.0.0.1',
    port: 0,
    tlsPort: 0,
    tls: fallback,
    control: false,
    trustStore,
    certstore,
    acme: { directoryUrl: `https://127.0.0.1:${acmePort}/dir`, email: 'ops@example.test', pollIntervalMs: 50, retryMinMs: 100, caCertificates: pebblePair.cert },
  });
  await proxy.start();
  pebble = await startPebble({ port: acmePort, httpPort: proxy.addresses.http?.port as number, dnsPort: dns.port, serverPair: pebblePair });
}, 30_000);

afterAll(async () => {
  await proxy?.stop();
  await pebble?.stop();
  await dns?.close();
  if (certstore !== undefined) await rm(certstore, { recursive: true, force: true });
});

describeWithPebble('ACME through the proxy (pebble validates HTTP-01 on the HTTP listener)', () => {
  it('obtains a certificate on the first handshake for a name in a key scope and stores it with mode 0600', async () => {
    const root = await pebble.root();
    const first = await handshake(proxy.addresses.https?.port as number, ALLOWED, root);
    expect(first.certificate.checkHost(ALLOWED)).toBe(ALLOWED);
    expect(first.authorized).toBe(true);
    // The certificate chosen by SNI keeps the listener's ALPN: h2 is negotiated with it.
    expect(first.alpn).toBe('h2');
    expect(proxy.certificates?.stats.issued).toBe(1);
    const files = await readdir(path.join(certstore, 'acme', 'certificates'));
    expect(files).toEqual([`${ALLOWED}.json`]);
    expect((await stat(path.join(certstore, 'acme', 'certificates', `${ALLOWED}.json`))).mode & 0o777).toBe(0o600);
    // The second handshake is served from memory: no new order.
    const second = await handshake(proxy.addresses.https?.port as number, ALLOWED, root);
    expect(second.certificate.serialNumber).toBe(first.certificate.serialNumber);
    expect(proxy.certificates?.stats.issued).toBe(1);
    const metrics = (await proxy.metrics.exposition()).body;
    expect(metrics).toMatch(new RegExp(`inteli_acme_certificate_days_left\\{name="${ALLOWED.replace(/\./g, '\\.')}"\\} \\d+`));
  }, 30_000);

  it('serves the fallback certificate for a name outside every scope and orders nothing', async () => {
    const root = await pebble.root();
    const issued = proxy.certificates?.stats.issued;
    const refused = proxy.certificates?.stats.refusedNames ?? 0;
    const result = await handshake(proxy.addresses.https?.port as number, 'evil.example.test', root);
    expect(result.authorized).toBe(false);
    expect(result.certificate.raw.equals(new X509Certificate(fallbackCert).raw)).toBe(true);
    expect(proxy.certificates?.stats.refusedNames).toBe(refused + 1);
    expect(proxy.certificates?.stats.issued).toBe(issued);
    expect(await readdir(path.join(certstore, 'acme', 'certificates'))).not.toContain('evil.example.test.json');
  });

  it('obtains the certificate of a host-bound rule as soon as a backend registers it', async () => {
    const issued = new Promise<string>((resolve) => proxy.certificates?.on('issued', ({ name }) => resolve(name)));
    proxy.registry.add({ agentId: 'www', targets: [{ protocol: 'http', host: '127.0.0.1', port: 9 }], rules: [{ path: '/', host: 'www.example.test' }] });
    expect(await issued).toBe('www.example.test');
    const result = await handshake(proxy.addresses.https?.port as number, 'www.example.test', await pebble.root());
    expect(result.authorized).toBe(true);
  }, 30_000);

  it('routes a challenge request whose token it does not know like any other request', async () => {
    const req = request({ host: '127.0.0.1', port: proxy.addresses.http?.port, path: '/.well-known/acme-challenge/AAAAAAAAAAAAAAAAAAAAAAAA', headers: { host: ALLOWED } });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    res.resume();
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toContain('application/json');
  });
});
