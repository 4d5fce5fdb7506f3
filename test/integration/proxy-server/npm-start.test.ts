/**
 * `npm start` as a user runs it: the compiled `inteli-proxy` CLI in an empty directory. The first start
 * generates a development certificate and the admin key pair, serves 403 with no backend, and stops
 * with exit 0 on SIGTERM; a second start overwrites nothing; a bad variable stops it with exit 2. It
 * records its control URL and pin in keys/proxy.json, so inteli-sysadmin works there with no flags; on
 * a terminal (or with LOG_FORMAT=pretty) it prints a banner and human logs.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { send } from '../../helpers/data-plane-client.js';
import { withTimeout } from '../../helpers/control-plane-client.js';

const cli = new URL('../../../dist/src/proxy/cli.js', import.meta.url).pathname;
const sysadminCli = new URL('../../../dist/src/sysadmin/cli.js', import.meta.url).pathname;
const env = { PROXY_HOST: '127.0.0.1', PROXY_PORT: '0', PROXY_TLS_PORT: '0', PROXY_WS_HOST: '127.0.0.1', PROXY_WS_PORT: '0', PROXY_ADMIN_PORT: '0' };

type LogLine = Record<string, unknown> & { msg?: string };

interface Started {
  readonly child: ChildProcess;
  readonly lines: LogLine[];
  readonly running: LogLine;
}

/** Every child started here; the after-hook kills any still running (a failed test must not leave one). */
const children = new Set<ChildProcess>();

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function spawnCli(cwd: string, extraEnv: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [cli], { cwd, env: { ...process.env, ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Starts the CLI in `cwd` and resolves with its log once it says it is running (within 15 s, else kills it). */
async function start(cwd: string): Promise<Started> {
  const child = spawnCli(cwd, { LOG_LEVEL: 'info' });
  const lines: LogLine[] = [];
  const running = new Promise<Started>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`inteli-proxy exited with ${code} before running`)));
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: `(not JSON) ${text}` };
      }
      lines.push(line);
      if (typeof line.msg === 'string' && line.msg.startsWith('inteli-proxy is running')) resolve({ child, lines, running: line });
    });
  });
  try {
    return await withTimeout(running, 15_000, 'inteli-proxy to say it is running');
  } catch (error) {
    child.kill('SIGKILL');
    await exited(child);
    throw error;
  }
}

/** SIGTERM, and the exit code; a child still running after 10 s is killed and reported as such. */
async function stop(child: ChildProcess): Promise<number | null | 'killed'> {
  const exit = exited(child);
  child.kill('SIGTERM');
  try {
    return await withTimeout(exit, 10_000, 'inteli-proxy to exit on SIGTERM');
  } catch {
    child.kill('SIGKILL');
    await exit;
    return 'killed';
  }
}

describe('npm start (the inteli-proxy CLI)', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'inteli-start-'));
  });

  afterAll(async () => {
    for (const child of children) {
      child.kill('SIGKILL');
      await exited(child);
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('first start: makes a dev certificate and an admin key, answers 403 with no backend, exits 0 on SIGTERM', async () => {
    const { child, lines, running } = await start(dir);
    try {
      expect(lines.some((line) => line.msg?.startsWith('no certificate configured') === true)).toBe(true);
      expect(lines.some((line) => line.msg?.startsWith('empty trust store: created the admin key pair') === true)).toBe(true);
      expect(running.pin).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect((await stat(path.join(dir, 'keys', 'admin.key.json'))).mode & 0o777).toBe(0o600);
      expect((await stat(path.join(dir, 'tsl', 'key.pem'))).mode & 0o777).toBe(0o600);
      expect((await stat(path.join(dir, 'certstore', 'trust-store.json'))).mode & 0o777).toBe(0o600);
      const answer = await send(running.http as number, '/anything');
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'NO_ROUTE' });
      expect(JSON.stringify(lines)).not.toMatch(/"d":"[A-Za-z0-9_-]{43}"/);
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it('records the control URL and pin beside the admin key; inteli-sysadmin there works with no flags', async () => {
    const { child, running } = await start(dir);
    try {
      const record = JSON.parse(await readFile(path.join(dir, 'keys', 'proxy.json'), 'utf8')) as Record<string, unknown>;
      expect(record).toMatchObject({ proxyUrl: `wss://127.0.0.1:${running.control as number}`, pin: running.pin });
      expect(Object.keys(record).sort()).toEqual(['pin', 'proxyUrl', 'writtenAt']);
      const sysadminEnv: Record<string, string | undefined> = { ...process.env };
      for (const name of ['PROXY_WS_URL', 'INTELI_ADMIN_ID', 'INTELI_ADMIN_KEY', 'INTELI_PROXY_PIN']) delete sysadminEnv[name];
      const out = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, [sysadminCli, 'keys', 'list', '--json'], { cwd: dir, env: sysadminEnv }, (error, stdout, stderr) => (error === null ? resolve(stdout) : reject(new Error(`${error.message}: ${stderr}`))));
      });
      expect((JSON.parse(out) as { keys: Array<{ id: string; role: string }> }).keys).toContainEqual(expect.objectContaining({ id: 'admin', role: 'admin' }));
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it('LOG_FORMAT=pretty (what a terminal gets): a banner with the listeners, the pin and the sysadmin command, and human log lines', async () => {
    const child = spawn(process.execPath, [cli], { cwd: dir, env: { ...process.env, ...env, LOG_LEVEL: 'info', LOG_FORMAT: 'pretty' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`inteli-proxy exited with ${code} before running`)));
        child.stdout!.on('data', (chunk: Buffer) => {
          output += chunk.toString('utf8');
          if (output.includes('npx inteli-sysadmin keys list\n')) resolve();
        });
      });
      const pin = JSON.parse(await readFile(path.join(dir, 'keys', 'proxy.json'), 'utf8')).pin as string;
      expect(output).toMatch(/\n {2}HTTP +http:\/\/127\.0\.0\.1:\d+\n/);
      expect(output).toMatch(/\n {2}control +wss:\/\/127\.0\.0\.1:\d+/);
      expect(output).toContain(`  pin      ${pin}\n`);
      expect(output).toContain('(it reads keys/proxy.json)');
      // Log lines are for people: a level and a component, not JSON objects.
      expect(output).toMatch(/INFO: \[control-plane\] control plane listening/);
      expect(output.split('\n').some((line) => line.startsWith('{'))).toBe(false);
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it('second start: keeps the certificate and the admin key as they are', async () => {
    const key = await readFile(path.join(dir, 'keys', 'admin.key.json'), 'utf8');
    const cert = await readFile(path.join(dir, 'tsl', 'cert.pem'), 'utf8');
    const { child, lines } = await start(dir);
    try {
      expect(lines.some((line) => line.msg?.startsWith('no certificate configured') === true)).toBe(false);
      expect(lines.some((line) => line.msg?.startsWith('empty trust store') === true)).toBe(false);
      expect(await readFile(path.join(dir, 'keys', 'admin.key.json'), 'utf8')).toBe(key);
      expect(await readFile(path.join(dir, 'tsl', 'cert.pem'), 'utf8')).toBe(cert);
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it('refuses a bad variable with exit 2 and a message naming it', async () => {
    const child = spawnCli(dir, { PROXY_PORT: 'eighty' });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await withTimeout(exited(child), 15_000, 'inteli-proxy to exit');
    expect(code).toBe(2);
    expect(stderr).toMatch(/^inteli-proxy: PROXY_PORT: expected an integer from 0 to 65535, got "eighty"/);
  });
});
