import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../../../src/sysadmin/run-cli.js';
import { writeKeyPair } from '../../../src/shared/identity/write-key-pair.js';
import { parsePrivateJwk, parsePublicJwk } from '../../../src/shared/identity/jwk.js';
import { fingerprint } from '../../../src/shared/identity/fingerprint.js';
import { collector } from '../../helpers/cli-output.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'inteli-keygen-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeKeyPair', () => {
  it('writes <id>.key.json with mode 0600 and <id>.pub.json that match', async () => {
    const written = await writeKeyPair('WEB001', dir);
    expect(written.privatePath).toBe(path.join(dir, 'WEB001.key.json'));
    expect((await stat(written.privatePath)).mode & 0o777).toBe(0o600);
    const privateJwk = parsePrivateJwk(JSON.parse(await readFile(written.privatePath, 'utf8')));
    const publicJwk = parsePublicJwk(JSON.parse(await readFile(written.publicPath, 'utf8')));
    expect(publicJwk.x).toBe(privateJwk.x);
    expect(publicJwk.kid).toBe('WEB001');
    expect(written.fingerprint).toBe(await fingerprint(publicJwk));
  });

  it('refuses to overwrite an existing key', async () => {
    const first = await writeKeyPair('WEB001', dir);
    const before = await readFile(first.privatePath, 'utf8');
    await expect(writeKeyPair('WEB001', dir)).rejects.toMatchObject({ code: 'RP_ERR_ALREADY_EXISTS' });
    expect(await readFile(first.privatePath, 'utf8')).toBe(before);
  });

  it('rejects a path-traversal id before touching the file system', async () => {
    const target = path.join(dir, 'sub');
    await expect(writeKeyPair('../../etc/passwd', target)).rejects.toMatchObject({ code: 'RP_ERR_INVALID_ID' });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('inteli-sysadmin (runCli)', () => {
  it('keygen writes the pair and prints the fingerprint', async () => {
    const io = collector();
    expect(await runCli(['keygen', 'WEB002', '--out', dir], io)).toBe(0);
    expect(io.out()).toMatch(/fingerprint: [A-Za-z0-9_-]{43}/);
    expect((await readdir(dir)).sort()).toEqual(['WEB002.key.json', 'WEB002.pub.json']);
    expect(io.out()).not.toContain('"d"');
  });

  it('keygen --json prints one JSON document', async () => {
    const io = collector();
    expect(await runCli(['keygen', 'WEB003', '--out', dir, '--json'], io)).toBe(0);
    const result = JSON.parse(io.out()) as Record<string, string>;
    expect(result).toEqual({ id: 'WEB003', privatePath: path.join(dir, 'WEB003.key.json'), publicPath: path.join(dir, 'WEB003.pub.json'), fingerprint: expect.any(String) });
  });

  it('keygen fails with exit 1 and one line on an existing key', async () => {
    const io = collector();
    await runCli(['keygen', 'WEB004', '--out', dir], collector());
    expect(await runCli(['keygen', 'WEB004', '--out', dir], io)).toBe(1);
    expect(io.err().trim().split('\n')).toHaveLength(1);
    expect(io.err()).toContain('RP_ERR_ALREADY_EXISTS');
  });

  it('keygen fails with exit 1 on an invalid id', async () => {
    const io = collector();
    expect(await runCli(['keygen', '../evil', '--out', dir], io)).toBe(1);
    expect(io.err()).toContain('RP_ERR_INVALID_ID');
    expect(await readdir(dir)).toEqual([]);
  });

  it('prints help for the program and for every command with exit 0', async () => {
    const io = collector();
    expect(await runCli(['--help'], io)).toBe(0);
    expect(io.out()).toContain('keygen');
    const help = collector();
    expect(await runCli(['keygen', '--help'], help)).toBe(0);
    expect(help.out()).toContain('Usage: inteli-sysadmin keygen <id>');
  });

  it.each([
    [[], 2],
    [['frobnicate'], 2],
    [['keygen'], 2],
    [['keygen', 'a', 'b'], 2],
    [['keygen', 'a', '--bogus'], 2],
  ])('exits non-zero with one line for bad usage %j', async (argv, code) => {
    const io = collector();
    expect(await runCli(argv as string[], io)).toBe(code);
    if (argv.length > 0) expect(io.err().trim().split('\n')).toHaveLength(1);
  });
});
