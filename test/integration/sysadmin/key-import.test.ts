/**
 * Bulk key provisioning (issue 18): `ProxySysAdmin.addPublicKeys` and `inteli-sysadmin keys import`
 * against a real control plane whose AGENT frame budget is tiny, so only the admin session's own limit
 * and the client's pacing let the batches through.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { TrustStore } from '../../../src/shared/trust/trust-store.js';
import { startControlPlane, type ControlPlaneFixture, type TestKey } from '../../helpers/control-plane-fixture.js';
import { collector } from '../../helpers/cli-output.js';
import { ProxySysAdmin, type ProxySysAdminOptions } from '../../../src/sysadmin/proxy-sysadmin.js';
import { runCli } from '../../../src/sysadmin/run-cli.js';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { createLogger } from '../../../src/shared/logger.js';
import { writeJson } from './sysadmin-helpers.js';

let fixture: ControlPlaneFixture;
let admin: TestKey;
let dir: string;
const auditLines: Array<Record<string, unknown>> = [];
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        const record = JSON.parse(line) as Record<string, unknown>;
        if (record.audit === true) auditLines.push(record);
      }
      callback();
    },
  });
  // An agent may send 1 frame/s (burst 2): 3 batches in a row would be cut if admin sessions shared it.
  fixture = await startControlPlane({ logger: createLogger({ level: 'info', destination }), limits: { messagesPerSecond: 1, burst: 2 } });
  admin = await fixture.addKey('ops', { role: 'admin' });
  dir = await mkdtemp(path.join(tmpdir(), 'inteli-key-import-'));
});

afterAll(async () => {
  await fixture.close();
  await rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

function client(options: Partial<ProxySysAdminOptions> = {}): ProxySysAdmin {
  const sysadmin = new ProxySysAdmin({ proxyUrl: fixture.url, adminId: admin.id, key: admin.privateJwk, pin: fixture.controlPlane.pin, ...options });
  cleanups.push(() => sysadmin.stop());
  return sysadmin;
}

async function publicKeys(prefix: string, count: number): Promise<Array<{ id: string; publicKey: Record<string, unknown> }>> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const id = `${prefix}${i}`;
      return { id, publicKey: { ...(await generateKeyPair(id)).publicJwk } };
    }),
  );
}

describe('ProxySysAdmin.addPublicKeys', () => {
  it('imports 250 keys in batches (one frame per 100 keys), answers per key in order, audits each', async () => {
    const keys = await publicKeys('BULK', 250);
    const sysadmin = client();
    await sysadmin.start();
    const before = auditLines.length;
    const results = await sysadmin.addPublicKeys(keys.map((key) => ({ ...key, rules: ['/api'] })));
    expect(results).toHaveLength(250);
    expect(results.every((result, i) => result.status === 'added' && result.id === `BULK${i}`)).toBe(true);
    expect(fixture.trustStore.get('BULK249')?.scope).toEqual({ rules: ['/api'] });
    const audited = auditLines.slice(before).filter((line) => line.action === 'keys.add');
    expect(audited.map((line) => line.keyId)).toEqual(keys.map((key) => key.id));
    expect(sysadmin.connected).toBe(true);
  });

  it('reports each bad key with its code and still adds the good ones', async () => {
    const [good, other] = await publicKeys('MIXED', 2);
    const privateJwk = (await generateKeyPair('PRIV')).privateJwk;
    const sysadmin = client();
    await sysadmin.start();
    const before = auditLines.length;
    const results = await sysadmin.addPublicKeys([
      { ...good!, rules: ['/a'] },
      { id: '../etc', publicKey: other!.publicKey },
      { id: 'PRIV', publicKey: { ...privateJwk } },
      { id: 'BULK0', publicKey: other!.publicKey, rules: ['/a'] },
      { id: 'ROLE1', publicKey: other!.publicKey, role: 'root' as never },
      { id: 'GLOB1', publicKey: other!.publicKey, rules: ['/api/*'] },
      { id: 'OTHER', publicKey: other!.publicKey, rules: ['/b'] },
    ]);
    expect(results.map((result) => [result.id, result.status === 'added' ? 'added' : result.code])).toEqual([
      ['MIXED0', 'added'],
      ['../etc', 'RP_ERR_INVALID_ID'],
      ['PRIV', 'RP_ERR_INVALID_KEY'],
      ['BULK0', 'RP_ERR_ALREADY_EXISTS'],
      ['ROLE1', 'RP_ERR_INVALID_OPTION'],
      ['GLOB1', 'RP_ERR_INVALID_OPTION'],
      ['OTHER', 'added'],
    ]);
    // The proxy audits the refusal it decided (an existing id) as well as each key it added.
    const audited = auditLines.slice(before).map((line) => [line.action, line.keyId]);
    expect(audited).toEqual([
      ['keys.add', 'MIXED0'],
      ['keys.import.refused', 'BULK0'],
      ['keys.add', 'OTHER'],
    ]);
  });

  it('works with a trust store that has no batch write (one add per key)', async () => {
    const plain = TrustStore.inMemory();
    // A store implementation without addMany (e.g. another backend): the handler falls back to add().
    Object.defineProperty(plain, 'addMany', { value: undefined });
    const other = await startControlPlane({ trustStore: plain });
    cleanups.push(() => other.close());
    const otherAdmin = await other.addKey('ops', { role: 'admin' });
    const sysadmin = new ProxySysAdmin({ proxyUrl: other.url, adminId: 'ops', key: otherAdmin.privateJwk, pin: other.controlPlane.pin });
    cleanups.push(() => sysadmin.stop());
    await sysadmin.start();
    const [key] = await publicKeys('PLAIN', 1);
    const results = await sysadmin.addPublicKeys([{ ...key!, rules: ['/p'] }, { ...key!, rules: ['/p'] }]);
    expect(results.map((result) => (result.status === 'added' ? 'added' : result.code))).toEqual(['added', 'RP_ERR_ALREADY_EXISTS']);
  });

  it('paces a loop of single calls within the session rate limit instead of being cut (4008)', async () => {
    // A proxy whose admin budget is small: 5 frames at once, 10 per second.
    const strict = await startControlPlane({ limits: { adminMessagesPerSecond: 10, adminBurst: 5 } });
    cleanups.push(() => strict.close());
    const strictAdmin = await strict.addKey('ops', { role: 'admin' });
    const loop = async (requestsPerSecond: number, prefix: string): Promise<boolean> => {
      const sysadmin = new ProxySysAdmin({ proxyUrl: strict.url, adminId: 'ops', key: strictAdmin.privateJwk, pin: strict.controlPlane.pin, requestsPerSecond });
      cleanups.push(() => sysadmin.stop());
      await sysadmin.start();
      let cut = false;
      sysadmin.on('disconnected', ({ code }) => (cut ||= code === 4008));
      const keys = await publicKeys(prefix, 12);
      await Promise.allSettled(keys.map((key) => sysadmin.addPublicKey(key.id, key.publicKey, { rules: ['/loop'] })));
      return cut;
    };
    // Unpaced, the burst breaks the proxy's limit and the session is cut; paced below it, it is not.
    expect(await loop(10_000, 'FAST')).toBe(true);
    expect(await loop(5, 'PACED')).toBe(false);
    expect(Array.from({ length: 12 }, (_, i) => strict.trustStore.get(`PACED${i}`) !== undefined).every(Boolean)).toBe(true);
  });
});

describe('inteli-sysadmin keys import', () => {
  async function importFile(text: string, extra: string[] = []): Promise<{ code: number; out: string; err: string }> {
    const file = path.join(dir, `import-${Math.random().toString(36).slice(2)}.ndjson`);
    await writeFile(file, text);
    const keyFile = await writeJson(dir, 'ops.key.json', admin.privateJwk);
    const io = collector();
    const code = await runCli(['keys', 'import', file, '--proxy', fixture.url, '--id', 'ops', '--key', keyFile, '--pin', fixture.controlPlane.pin as string, ...extra], io);
    return { code, out: io.out(), err: io.err() };
  }

  it('reports every entry of a file with good and bad ones, and exits 1', async () => {
    const [a, b, c] = await publicKeys('CLI', 3);
    const text = [
      JSON.stringify({ ...a, rules: ['/cli'] }),
      '{ not json',
      JSON.stringify({ ...b }),
      JSON.stringify({ id: 'CLIBAD', publicKey: { kty: 'OKP', crv: 'Ed25519', x: 'short' }, rules: ['/cli'] }),
      '',
      JSON.stringify({ ...c, role: 'admin' }),
      JSON.stringify({ ...a, rules: ['/cli'] }),
    ].join('\n');
    const { code, out } = await importFile(text);
    expect(code).toBe(1);
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^added +CLI0 \(agent\) [A-Za-z0-9_-]{43}$/);
    expect(lines[1]).toMatch(/^refused +- \(line 2\) RP_ERR_INVALID_OPTION: not valid JSON$/);
    expect(lines[2]).toMatch(/^refused +CLI1 \(line 3\) RP_ERR_INVALID_OPTION: an agent key without rules/);
    expect(lines[3]).toMatch(/^refused +CLIBAD \(line 4\) RP_ERR_INVALID_KEY/);
    expect(lines[4]).toMatch(/^added +CLI2 \(admin\) /);
    expect(lines[5]).toMatch(/^refused +CLI0 \(line 7\) RP_ERR_ALREADY_EXISTS/);
    expect(lines[6]).toMatch(/^imported 2 of 6 keys \(4 refused\) in \d+ ms$/);
    expect(fixture.trustStore.get('CLI0')?.role).toBe('agent');
    expect(fixture.trustStore.get('CLI2')?.role).toBe('admin');
  });

  it('--json prints one document with a result per entry; a JSON array file works too; exit 0 when all were added', async () => {
    const keys = await publicKeys('JSON', 2);
    const { code, out } = await importFile(JSON.stringify(keys.map((key) => ({ ...key, rules: ['/j'], hosts: ['10.0.0.0/8'] }))), ['--json']);
    expect(code).toBe(0);
    const document = JSON.parse(out) as { results: Array<Record<string, unknown>>; added: number; refused: number };
    expect(document).toMatchObject({ added: 2, refused: 0 });
    expect(document.results.map((result) => [result.where, result.id, result.status])).toEqual([
      ['[0]', 'JSON0', 'added'],
      ['[1]', 'JSON1', 'added'],
    ]);
    expect(fixture.trustStore.get('JSON1')?.scope).toEqual({ rules: ['/j'], hosts: ['10.0.0.0/8'] });
  });

  it('exits 2 with a clear message for a file that cannot be read', async () => {
    const io = collector();
    const code = await runCli(['keys', 'import', path.join(dir, 'missing.json'), '--proxy', fixture.url], io);
    expect(code).toBe(2);
    expect(io.err()).toContain('cannot read');
  });
});
