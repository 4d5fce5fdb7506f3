import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ChallengeResponder } from '../../../src/proxy/acme/challenge-responder.js';
import { FileCertificateStorage } from '../../../src/proxy/acme/file-certificate-storage.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { generateDevCertificate } from '../../../src/shared/tls/dev-certificate.js';

let dir: string;
let storage: FileCertificateStorage;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'acme-storage-'));
  storage = new FileCertificateStorage(dir);
});

afterAll(async () => {
  await storage.close();
  await rm(dir, { recursive: true, force: true });
});

describe('file certificate storage', () => {
  it('writes a certificate with mode 0600 and reads it back validated', async () => {
    // The development certificate is valid for localhost only: store it under a name it covers.
    const pair = await generateDevCertificate(['cert.example.test']);
    await storage.writeCertificate({ name: 'cert.example.test', cert: pair.cert, key: pair.key, notBefore: 0, notAfter: 1 });
    const file = path.join(dir, 'certificates', 'cert.example.test.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const read = await storage.readCertificate('cert.example.test');
    expect(read?.key).toBe(pair.key);
    expect(read?.notAfter).toBeGreaterThan(Date.now());
    expect(await storage.listCertificates()).toEqual(['cert.example.test']);
  });

  it('reads a certificate kept under another name, a wrong key or corrupt JSON as absent', async () => {
    const pair = await generateDevCertificate(['other.example.test']);
    const other = await generateDevCertificate(['other.example.test']);
    const certificates = path.join(dir, 'certificates');
    await writeFile(path.join(certificates, 'wrong.example.test.json'), JSON.stringify({ name: 'wrong.example.test', cert: pair.cert, key: pair.key }));
    await writeFile(path.join(certificates, 'other.example.test.json'), JSON.stringify({ name: 'other.example.test', cert: pair.cert, key: other.key }));
    await writeFile(path.join(certificates, 'junk.example.test.json'), '{not json');
    expect(await storage.readCertificate('wrong.example.test')).toBeUndefined();
    expect(await storage.readCertificate('other.example.test')).toBeUndefined();
    expect(await storage.readCertificate('junk.example.test')).toBeUndefined();
  });

  it('refuses a name that could be a path', async () => {
    await expect(storage.readCertificate('../trust-store')).rejects.toMatchObject({ code: 'RP_ERR_ACME' });
  });

  it('gives a lock to one holder until it is released or expires', async () => {
    const first = await storage.lock('lock.example.test', 60_000);
    expect(first).toBeDefined();
    expect(await storage.lock('lock.example.test', 60_000)).toBeUndefined();
    await first?.release();
    const second = await storage.lock('lock.example.test', 1);
    expect(second).toBeDefined();
    // An expired lock (its holder crashed) is taken over.
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await storage.lock('lock.example.test', 60_000)).toBeDefined();
  });
});

describe('challenge responder', () => {
  function call(responder: ChallengeResponder, url: string): { taken: boolean; status?: number; body?: string; next: boolean } {
    const result: { taken: boolean; status?: number; body?: string; next: boolean } = { taken: false, next: false };
    const res = {
      headersSent: false,
      destroyed: false,
      req: { method: 'GET' },
      writeHead(status: number) {
        result.status = status;
      },
      end(body?: Buffer) {
        result.body = body?.toString();
      },
    } as unknown as ServerResponse;
    result.taken = responder.handle({ url, method: 'GET' } as IncomingMessage, res, () => (result.next = true));
    return result;
  }

  it('answers a published token and leaves other paths alone', async () => {
    const responder = new ChallengeResponder(storage, silentLogger());
    await responder.publish('TOKEN_abcdefghijklmnop', 'TOKEN_abcdefghijklmnop.thumb', 60_000);
    expect(call(responder, '/.well-known/acme-challenge/TOKEN_abcdefghijklmnop')).toMatchObject({ taken: true, status: 200, body: 'TOKEN_abcdefghijklmnop.thumb' });
    expect(call(responder, '/api')).toMatchObject({ taken: false });
    expect(call(responder, '/.well-known/acme-challenge/bad token!')).toMatchObject({ taken: false });
    await responder.withdraw('TOKEN_abcdefghijklmnop');
    const after = call(responder, '/.well-known/acme-challenge/TOKEN_abcdefghijklmnop');
    expect(after.taken).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(after.next).toBe(true);
  });
});
