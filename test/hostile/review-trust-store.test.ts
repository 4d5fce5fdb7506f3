/**
 * The trust-store findings of the outside security review (issue 14): a revocation while a bad hand edit
 * has made the store file corrupt (the key must go at once, be written once the file is fixed, and the
 * corruption show in /readyz, a metric and the log), and a symbolic link, a FIFO or loose permissions in
 * place of the store file (refused, not followed or waited on; a warning, or a refusal with
 * `strictModes`).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { ProxyServer } from '../../src/proxy/proxy-server.js';
import { generateKeyPair, type Ed25519PrivateJwk } from '../../src/shared/identity/key-pair.js';
import { signToken } from '../../src/shared/identity/sign-token.js';
import { FileTrustStore, openFileTrustStore, TRUST_STORE_FILE } from '../../src/shared/trust/index.js';
import type { PemPair } from '../../src/shared/tls/dev-certificate.js';
import { dial, tryDial } from '../helpers/control-plane-client.js';
import { testCertificate } from '../helpers/control-plane-fixture.js';
import { send } from '../helpers/data-plane-client.js';
import { attack, tallyOne, useTally } from '../helpers/hostile-tally.js';

useTally();

let root: string;
let cert: PemPair;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'inteli-review-trust-'));
  cert = await testCertificate();
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Resolves once `condition` holds, checking every 20 ms; rejects after `ms` (file watching has no event to await here). */
async function until(condition: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function logCapture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: 'info' }, destination), lines };
}

describe('issue 14: revocation while the store file is corrupt', () => {
  it('fix-issue-14-corrupt-store-revocation: keys.remove takes effect at once, shows in /readyz and the metric, and is written once the file is fixed', async () => {
    await attack('revocation with a corrupt store', async () => {
      const dir = path.join(root, 'corrupt');
      const { privateJwk: adminJwk, publicJwk: adminPublic } = await generateKeyPair('ops');
      const { privateJwk: victimJwk, publicJwk: victimPublic } = await generateKeyPair('victim');
      const seed = await openFileTrustStore(dir);
      await seed.add({ id: 'ops', publicKey: adminPublic, role: 'admin' });
      await seed.add({ id: 'victim', publicKey: victimPublic, scope: { rules: ['/v'], hosts: ['127.0.0.1'] } });
      const goodFile = await readFile(path.join(dir, TRUST_STORE_FILE), 'utf8');
      const { logger, lines } = logCapture();
      const proxy = new ProxyServer({
        host: '127.0.0.1',
        port: 0,
        certstore: dir,
        logger,
        control: { host: '127.0.0.1', port: 0, tls: cert, heartbeatIntervalMs: 1000 },
        admin: { host: '127.0.0.1', port: 0 },
      });
      await proxy.start();
      const adminPort = proxy.addresses.admin?.port ?? 0;
      const token = (id: string, jwk: Ed25519PrivateJwk): Promise<string> => signToken(jwk, { subject: id, audience: proxy.controlPlane!.audience, ttlSeconds: 60 });
      try {
        const victim = await dial(proxy.controlPlane!.url, { ca: cert.cert, token: await token('victim', victimJwk) });
        const ops = await dial(proxy.controlPlane!.url, { ca: cert.cert, token: await token('ops', adminJwk) });
        // The bad hand edit.
        await writeFile(path.join(dir, TRUST_STORE_FILE), goodFile.replace('"keys": [', '"keys": [ oops,'));
        await until(async () => JSON.parse((await send(adminPort, '/readyz')).body).trustStore?.ok === false, 5000, '/readyz to report the corrupt store');
        const reply = await ops.request({ type: 'keys.remove', keyId: 'victim' });
        expect(reply).toMatchObject({ type: 'ack' });
        expect(await victim.closeCode()).toBe(4003);
        expect(await tryDial(proxy.controlPlane!.url, { ca: cert.cert, token: await token('victim', victimJwk) })).toMatchObject({ ok: false, status: 401 });
        const ready = JSON.parse((await send(adminPort, '/readyz')).body) as { ready: boolean; trustStore: { ok: boolean } };
        expect(ready).toMatchObject({ ready: true, trustStore: { ok: false } });
        expect((await send(adminPort, '/metrics')).body).toContain('inteli_trust_store_healthy 0');
        expect(lines.some((line) => String(line.msg).includes('key removed in memory only'))).toBe(true);
        // The hand fix restores the old content, victim included: the removal still holds and is written.
        await writeFile(path.join(dir, TRUST_STORE_FILE), goodFile);
        await until(async () => !(await readFile(path.join(dir, TRUST_STORE_FILE), 'utf8')).includes('"victim"'), 5000, 'the removal to be written');
        expect(proxy.trustStore?.get('victim')).toBeUndefined();
        await until(async () => JSON.parse((await send(adminPort, '/readyz')).body).trustStore?.ok === true, 5000, 'the store to be healthy again');
        expect((await send(adminPort, '/metrics')).body).toContain('inteli_trust_store_healthy 1');
        await ops.close();
        for (let index = 0; index < 4; index += 1) tallyOne(true);
      } finally {
        await proxy.stop();
      }
    });
  });
});

describe('issue 14: what stands in place of the store file', () => {
  it('fix-issue-14-store-symlink: a symbolic link in place of the file is refused, not followed', async () => {
    await attack('symlinked trust store', async () => {
      const dir = path.join(root, 'symlink');
      const real = await openFileTrustStore(path.join(root, 'elsewhere'));
      await real.add({ id: 'planted', publicKey: (await generateKeyPair('planted')).publicJwk, scope: { rules: ['/'] } });
      await openFileTrustStore(dir);
      await symlink(path.join(root, 'elsewhere', TRUST_STORE_FILE), path.join(dir, TRUST_STORE_FILE));
      await expect(openFileTrustStore(dir)).rejects.toMatchObject({ code: 'RP_ERR_TRUST_STORE', message: expect.stringMatching(/symbolic link/) });
    });
  });

  it('fix-issue-14-store-fifo: a FIFO in place of the file is refused at once, not waited on', async () => {
    await attack('FIFO trust store', async () => {
      const dir = path.join(root, 'fifo');
      await openFileTrustStore(dir);
      execFileSync('mkfifo', [path.join(dir, TRUST_STORE_FILE)]);
      // Opening a FIFO for reading blocks until a writer comes: the refusal must not wait for one.
      await expect(openFileTrustStore(dir)).rejects.toMatchObject({ code: 'RP_ERR_TRUST_STORE', message: expect.stringMatching(/not a regular file/) });
    });
  });

  it('fix-issue-14-store-modes: a store others can write is warned about, and refused with strictModes', async () => {
    await attack('group-writable trust store', async () => {
      const dir = path.join(root, 'modes');
      const store = await openFileTrustStore(dir);
      await store.add({ id: 'k', publicKey: (await generateKeyPair('k')).publicJwk, scope: { rules: ['/k'] } });
      await chmod(dir, 0o777);
      await chmod(path.join(dir, TRUST_STORE_FILE), 0o666);
      const { logger, lines } = logCapture();
      const lenient = new FileTrustStore(dir, { logger });
      await lenient.open();
      expect(lenient.get('k')).toBeDefined();
      expect(lines.filter((line) => String(line.msg).includes('writable by group or others'))).toHaveLength(2);
      await expect(new FileTrustStore(dir, { strictModes: true }).open()).rejects.toMatchObject({ code: 'RP_ERR_TRUST_STORE', message: expect.stringMatching(/refusing the trust store/) });
      await chmod(dir, 0o700);
      await expect(new FileTrustStore(dir, { strictModes: true }).open()).rejects.toMatchObject({ code: 'RP_ERR_TRUST_STORE' });
      await chmod(path.join(dir, TRUST_STORE_FILE), 0o600);
      await new FileTrustStore(dir, { strictModes: true }).open();
    });
  });
});
