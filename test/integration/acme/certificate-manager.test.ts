/**
 * The certificate manager against Debian's pebble (challenges accepted without dialing, so these cases
 * need no listener): renewal past 2/3 of the lifetime, a CA that is down at start (fallback, backoff,
 * then success), and a fleet of two managers sharing one storage that order a certificate once.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SecureContext } from 'node:tls';
import { resolveAcmeOptions, type AcmeOptions } from '../../../src/proxy/acme/acme-options.js';
import { CertificateManager } from '../../../src/proxy/acme/certificate-manager.js';
import { FileCertificateStorage } from '../../../src/proxy/acme/file-certificate-storage.js';
import { RedisCertificateStorage } from '../../../src/proxy/acme/redis-certificate-storage.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { type DnsResponder, startDnsResponder } from '../../helpers/dns-responder.js';
import { RedisServerFixture } from '../../helpers/redis-server.js';
import { type Pebble, HAS_PEBBLE, freePort, pebbleServerPair, startPebble } from '../../helpers/pebble.js';

const KEYS = [{ scope: { rules: ['renew.example.test/', 'down.example.test/api', 'fleet.example.test/', 'redis.example.test/'] } }];

let dns: DnsResponder;
let dir: string;
const started: { stop(): Promise<unknown> }[] = [];

const describeWithPebble = HAS_PEBBLE ? describe : describe.skip;

beforeAll(async () => {
  if (!HAS_PEBBLE) return;
  dns = await startDnsResponder();
  dir = await mkdtemp(path.join(tmpdir(), 'acme-manager-'));
});

afterAll(async () => {
  for (const item of started.reverse()) await item.stop();
  await dns?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** A manager with a settable clock, started, stopped after the file. */
async function manager(acme: AcmeOptions, storageDir: string, clock: { now: number }): Promise<CertificateManager> {
  const created = new CertificateManager(resolveAcmeOptions({ pollIntervalMs: 20, ...acme }), {
    keys: () => KEYS,
    storageDir,
    logger: silentLogger(),
    now: () => clock.now,
  });
  started.push(created);
  await created.start();
  return created;
}

function sni(certificates: CertificateManager, name: string): Promise<SecureContext | undefined> {
  return new Promise((resolve) => certificates.sniCallback(name, (_error, context) => resolve(context)));
}

describeWithPebble('certificate manager against pebble', () => {
  let pebble: Pebble;
  beforeAll(async () => {
    pebble = await startPebble({ httpPort: 9, dnsPort: dns.port, alwaysValid: true });
    started.push(pebble);
  }, 20_000);

  it('renews a certificate once 2/3 of its lifetime has passed, and only then', async () => {
    const clock = { now: Date.now() };
    const certificates = await manager({ directoryUrl: pebble.directoryUrl, caCertificates: pebble.serverCa }, path.join(dir, 'renew'), clock);
    const first = await certificates.obtain('renew.example.test');
    expect(first).toBeDefined();
    const lifetime = (first?.notAfter ?? 0) - (first?.notBefore ?? 0);
    clock.now = (first?.notBefore ?? 0) + Math.floor(lifetime * 0.6);
    await certificates.renewDue();
    expect(certificates.stats.issued).toBe(1);
    clock.now = (first?.notBefore ?? 0) + Math.floor(lifetime * 0.7);
    await certificates.renewDue();
    expect(certificates.stats.issued).toBe(2);
    const renewed = await certificates.obtain('renew.example.test');
    expect(new X509Certificate(renewed?.cert ?? '').serialNumber).not.toBe(new X509Certificate(first?.cert ?? '').serialNumber);
    const [info] = certificates.certificates();
    expect(info?.name).toBe('renew.example.test');
    expect(info?.daysLeft).toBe(Math.floor(((renewed?.notAfter ?? 0) - clock.now) / 86_400_000));
  }, 20_000);

  it('two managers sharing one storage order a certificate once and serve the same one', async () => {
    const clock = { now: Date.now() };
    const shared = path.join(dir, 'fleet');
    const acme = { directoryUrl: pebble.directoryUrl, caCertificates: pebble.serverCa };
    const [a, b] = [await manager(acme, shared, clock), await manager(acme, shared, clock)];
    const [fromA, fromB] = await Promise.all([a.obtain('fleet.example.test'), b.obtain('fleet.example.test')]);
    expect(a.stats.issued + b.stats.issued).toBe(1);
    expect(fromA?.cert).toBe(fromB?.cert);
    expect(await new FileCertificateStorage(shared).listCertificates()).toEqual(['fleet.example.test']);
  }, 20_000);

  it('two proxies sharing Redis order a certificate once, and a third serves it from Redis at start', async () => {
    const redis = await RedisServerFixture.start();
    started.push({ stop: () => redis.close() });
    const storage = (): RedisCertificateStorage => {
      const created = new RedisCertificateStorage({ url: redis.url });
      // A given storage belongs to the caller: closed here, before redis-server stops.
      started.push({ stop: () => created.close() });
      return created;
    };
    const clock = { now: Date.now() };
    const acme = (): AcmeOptions => ({ directoryUrl: pebble.directoryUrl, caCertificates: pebble.serverCa, storage: storage() });
    const [a, b] = [await manager(acme(), dir, clock), await manager(acme(), dir, clock)];
    const [fromA, fromB] = await Promise.all([a.obtain('redis.example.test'), b.obtain('redis.example.test')]);
    expect(a.stats.issued + b.stats.issued).toBe(1);
    expect(fromA?.cert).toBe(fromB?.cert);
    const c = await manager(acme(), dir, clock);
    expect(c.certificates().map((info) => info.name)).toEqual(['redis.example.test']);
    expect(await sni(c, 'redis.example.test')).toBeDefined();
    expect(c.stats.issued).toBe(0);
  }, 20_000);
});

describeWithPebble('certificate manager with the CA down at start', () => {
  it('serves the fallback, backs off, and obtains the certificate once the CA is up', async () => {
    const port = await freePort();
    const serverPair = await pebbleServerPair();
    const clock = { now: Date.now() };
    const certificates = await manager(
      { directoryUrl: `https://127.0.0.1:${port}/dir`, caCertificates: serverPair.cert, retryMinMs: 60_000 },
      path.join(dir, 'down'),
      clock,
    );
    const failed = new Promise<{ retryAt: number }>((resolve) => certificates.once('failed', resolve));
    expect(await sni(certificates, 'down.example.test')).toBeUndefined();
    const { retryAt } = await failed;
    expect(retryAt).toBe(clock.now + 60_000);
    const pebble = await startPebble({ port, httpPort: 9, dnsPort: dns.port, alwaysValid: true, serverPair });
    started.push(pebble);
    // Still backing off: no order, the fallback again.
    expect(await sni(certificates, 'down.example.test')).toBeUndefined();
    expect(certificates.stats.failed).toBe(1);
    clock.now = retryAt;
    expect(await sni(certificates, 'down.example.test')).toBeDefined();
    expect(certificates.stats.issued).toBe(1);
  }, 20_000);
});
