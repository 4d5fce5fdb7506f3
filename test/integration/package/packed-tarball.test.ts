/**
 * The package as a user gets it: `npm pack` of the built checkout, installed offline into an empty
 * project (dependencies from the npm cache that `npm ci` filled, see offline-lockfile.ts). The bins run,
 * `import { ProxyWebServer } from 'inteli-proxy'` works, and the `inteli-proxy/agent` and
 * `inteli-proxy/sysadmin` subpaths load neither the proxy nor undici nor prom-client.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { offlineLockfile } from '../../helpers/offline-lockfile.js';

const CHECKOUT = path.resolve('.');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    // npm_config_* from an enclosing `npm test` (a different prefix, --silent) must not leak into the
    // user's view of the package.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_config_')));
    execFile(command, [...args], { cwd, env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A child that imports `specifier` and reports its export names and which CommonJS packages it loaded. */
const PROBE = `
import { createRequire } from 'node:module';
const exported = Object.keys(await import(process.argv[1])).sort();
const loaded = new Set();
for (const file of Object.keys(createRequire(import.meta.url).cache)) {
  const at = file.lastIndexOf('node_modules');
  if (at === -1) continue;
  const parts = file.slice(at + 'node_modules'.length + 1).split(/[\\/]/);
  loaded.add(parts[0].startsWith('@') ? parts[0] + '/' + parts[1] : parts[0]);
}
process.stdout.write(JSON.stringify({ exported, loaded: [...loaded].sort() }));
`;

/** Every file of the installed package reachable from `entry` through relative imports. */
async function importGraph(entry: string): Promise<{ files: string[]; bare: string[] }> {
  const files = new Set<string>();
  const bare = new Set<string>();
  const pending = [entry];
  const pattern = /\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g;
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(pattern)) {
      const specifier = match[1] as string;
      if (specifier.startsWith('.')) pending.push(path.resolve(path.dirname(file), specifier));
      else if (!specifier.startsWith('node:')) bare.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] as string));
    }
  }
  return { files: [...files], bare: [...bare].sort() };
}

describe('the packed tarball installed into an empty project', () => {
  let dir: string;
  let app: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'inteli-pack-'));
    const packed = await run(NPM, ['pack', '--silent', '--pack-destination', dir], CHECKOUT);
    if (packed.code !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
    const tarball = (await readdir(dir)).find((name) => name.endsWith('.tgz'));
    if (tarball === undefined) throw new Error('npm pack wrote no tarball');
    app = path.join(dir, 'app');
    await mkdir(app);
    const spec = `file:../${tarball}`;
    await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module', dependencies: { 'inteli-proxy': spec } }));
    await writeFile(path.join(app, 'package-lock.json'), JSON.stringify(await offlineLockfile(path.join(CHECKOUT, 'package-lock.json'), 'app', spec)));
    const installed = await run(NPM, ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], app);
    if (installed.code !== 0) {
      throw new Error(`npm ci --offline failed (is the npm cache filled by "npm ci" in the checkout?): ${installed.stderr.slice(0, 2000)}`);
    }
  }, 90_000);

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('ships only the built code, the systemd unit, the README and package.json (no tests, no sources, no keys)', async () => {
    const { files } = await importGraph(path.join(app, 'node_modules', 'inteli-proxy', 'dist', 'src', 'index.js'));
    expect(files.length).toBeGreaterThan(50);
    const top = (await readdir(path.join(app, 'node_modules', 'inteli-proxy'))).sort();
    expect(top).toEqual(['README.md', 'deploy', 'dist', 'package.json']);
    expect(await readdir(path.join(app, 'node_modules', 'inteli-proxy', 'deploy'))).toEqual(['inteli-proxy.service']);
    expect((await readdir(path.join(app, 'node_modules', 'inteli-proxy', 'dist'))).sort()).toEqual(['src']);
  });

  it.each([
    ['inteli-proxy', /^usage: inteli-proxy/],
    ['inteli-sysadmin', /^Usage: inteli-sysadmin <command>/],
    ['inteli-agent', /^Usage: inteli-agent --proxy/],
  ])('the %s bin runs from node_modules/.bin', async (bin, usage) => {
    const result = await run(path.join(app, 'node_modules', '.bin', bin), ['--help'], app);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(usage);
  });

  it("import { ProxyWebServer } from 'inteli-proxy' works, with the proxy (and so undici and prom-client)", async () => {
    const result = await run(process.execPath, ['--input-type=module', '-e', PROBE, 'inteli-proxy'], app);
    expect(result.stderr).toBe('');
    const probe = JSON.parse(result.stdout) as { exported: string[]; loaded: string[] };
    expect(probe.exported).toEqual(expect.arrayContaining(['ProxyWebServer', 'ProxyServer', 'ProxySysAdmin']));
    // The probe sees what an import loads: the full entry loads the forwarder and the metrics.
    expect(probe.loaded).toEqual(expect.arrayContaining(['undici', 'prom-client']));
  });

  it.each([
    ['inteli-proxy/agent', 'webserver-agent', 'ProxyWebServer', 'ProxySysAdmin'],
    ['inteli-proxy/sysadmin', 'sysadmin', 'ProxySysAdmin', 'ProxyWebServer'],
  ])('%s loads neither the proxy nor undici, prom-client, redis or pino-pretty', async (specifier, folder, present, absent) => {
    const result = await run(process.execPath, ['--input-type=module', '-e', PROBE, specifier], app);
    expect(result.stderr).toBe('');
    const probe = JSON.parse(result.stdout) as { exported: string[]; loaded: string[] };
    expect(probe.exported).toContain(present);
    expect(probe.exported).not.toContain(absent);
    expect(probe.exported).not.toContain('ProxyServer');
    for (const heavy of ['undici', 'prom-client', '@redis/client', 'redis', 'pino-pretty', 'acme-client']) expect(probe.loaded).not.toContain(heavy);
    // The ESM side, which require.cache does not show: no file of the proxy is reachable from the entry.
    const dist = path.join(app, 'node_modules', 'inteli-proxy', 'dist', 'src');
    const graph = await importGraph(path.join(dist, folder, 'index.js'));
    expect(graph.files.filter((file) => file.startsWith(path.join(dist, 'proxy')))).toEqual([]);
    for (const heavy of ['undici', 'prom-client', 'redis', 'acme-client']) expect(graph.bare).not.toContain(heavy);
  });
});
