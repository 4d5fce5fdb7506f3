/**
 * The compiled `inteli-proxy` with a configuration file (issue 15): `--check-config` exits 0 and prints
 * the resolved configuration with secrets masked, or 2 naming the file, line and key; a real start with
 * `PROXY_CONFIG` applies the file (`noTargetStatus`, `selector: weighted` so that agents of weight 3 and 1
 * share 40 requests 30/10), warns about an unknown `PROXY_*` variable, and SIGHUP switches the selector
 * back to round-robin (20/20) without a restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { openFileTrustStore } from '../../../src/shared/trust/index.js';
import { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import { withTimeout } from '../../helpers/control-plane-client.js';
import { send } from '../../helpers/data-plane-client.js';
import { waitUntil } from '../../helpers/wait-until.js';

const cli = new URL('../../../dist/src/proxy/cli.js', import.meta.url).pathname;

type LogLine = Record<string, unknown> & { msg?: string };

const children = new Set<ChildProcess>();
let dir: string;

/** The environment of every run: no inherited PROXY_* variable may change what the file says. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('PROXY_') && name !== 'LOG_LEVEL') env[name] = value;
  return { ...env, ...extra };
}

function run(args: string[], extra: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [cli, ...args], { cwd: dir, env: cleanEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function checkConfig(file: string, extra: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = run(['--check-config'], { PROXY_CONFIG: file, ...extra });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await withTimeout(new Promise<number | null>((resolve) => child.once('exit', resolve)), 15_000, '--check-config to exit');
  return { code, stdout, stderr };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'inteli-cli-config-'));
});

afterAll(async () => {
  for (const child of children) {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  await rm(dir, { recursive: true, force: true });
});

describe('inteli-proxy --check-config', () => {
  it('exits 0 and prints the resolved configuration, the file and variables applied, secrets masked', async () => {
    const file = path.join(dir, 'valid.yaml');
    await writeFile(file, 'selector: weighted\nresponseTimeoutMs: 1500\ntls: { cert: my/cert.pem, key: my/key.pem }\ncontrol: { heartbeatIntervalMs: 2000 }\n');
    const { code, stdout, stderr } = await checkConfig(file, { PROXY_PORT: '8080', PROXY_REDIS_URL: 'redis://:hunter2@127.0.0.1:6379' });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^# inteli-proxy: the configuration is valid \(file .*valid\.yaml;/);
    const printed = parse(stdout) as Record<string, unknown>;
    expect(printed).toMatchObject({ selector: 'weighted', responseTimeoutMs: 1500, port: 8080, tls: { cert: 'my/cert.pem', key: '[redacted]' }, control: { heartbeatIntervalMs: 2000, missedPongs: 2 } });
    expect(stdout).not.toContain('my/key.pem');
    expect(printed).toMatchObject({ trustStore: { redis: { url: '[redacted]', prefix: 'inteli:' } } });
    expect(stdout).not.toContain('hunter2');
  });

  it('exits 2 naming the file, the line, the key and what was expected', async () => {
    const file = path.join(dir, 'invalid.yaml');
    await writeFile(file, 'selector: weighted\ncontrol:\n  limits:\n    burst: 0\n');
    const { code, stdout, stderr } = await checkConfig(file);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toBe(`inteli-proxy: ${file}:4: control.limits.burst: expected an integer from 1 to 100000, got 0 (RP_ERR_INVALID_CONFIG)\n`);
  });

  it('exits 2 for an unknown key, with the name it probably meant', async () => {
    const file = path.join(dir, 'typo.json');
    await writeFile(file, '{ "selecter": "weighted" }');
    const { code, stderr } = await checkConfig(file);
    expect(code).toBe(2);
    expect(stderr).toContain('typo.json: selecter: unknown key; did you mean "selector"?');
  });
});

describe('inteli-proxy started with PROXY_CONFIG', () => {
  let child: ChildProcess;
  const lines: LogLine[] = [];
  let running: LogLine;
  const agents: ProxyWebServer[] = [];
  const file = (): string => path.join(dir, 'proxy.yaml');
  const base = 'host: 127.0.0.1\ntlsPort: 0\nport: 0\ncontrol: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\nnoTargetStatus: 404\n';

  beforeAll(async () => {
    await writeFile(file(), `${base}selector: weighted\n`);
    // Two agents' keys, trusted before the start (the file store is read at start).
    const store = await openFileTrustStore(path.join(dir, 'certstore'));
    const keys = await Promise.all(['HEAVY', 'LIGHT'].map((id) => generateKeyPair(id)));
    for (const key of keys) await store.add({ id: key.publicJwk.kid!, publicKey: key.publicJwk, scope: { rules: ['/api'], hosts: ['127.0.0.1'] } });
    await store.stop();
    child = run([], { PROXY_CONFIG: file(), PROXY_SELECTR: 'least-in-flight', LOG_LEVEL: 'info' });
    running = await withTimeout(
      new Promise<LogLine>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`inteli-proxy exited with ${code} before running`)));
        createInterface({ input: child.stdout! }).on('line', (text) => {
          const line = JSON.parse(text) as LogLine;
          lines.push(line);
          if (line.msg?.startsWith('inteli-proxy is running') === true) resolve(line);
        });
      }),
      15_000,
      'inteli-proxy to say it is running',
    );
    for (const [index, key] of keys.entries()) {
      const name = index === 0 ? 'HEAVY' : 'LIGHT';
      const agent = new ProxyWebServer({
        proxyUrl: `wss://127.0.0.1:${running.control as number}`,
        agentId: name,
        key: key.privateJwk,
        server: http.createServer((_req, res) => res.end(name)),
        host: '127.0.0.1',
        port: 0,
        rules: ['/api'],
        weight: index === 0 ? 3 : 1,
        pin: running.pin as string,
      });
      agents.push(agent);
      await agent.start();
    }
  });

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.stop()));
    if (child !== undefined && child.exitCode === null) {
      const exit = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exit;
    }
  });

  async function split(): Promise<Record<string, number>> {
    const seen: Record<string, number> = {};
    for (let index = 0; index < 40; index += 1) {
      const answer = await send(running.http as number, '/api');
      seen[answer.body] = (seen[answer.body] ?? 0) + 1;
    }
    return seen;
  }

  it('applies the file: noTargetStatus answers a request no rule matches', async () => {
    expect(running.config).toBe(file());
    expect((await send(running.http as number, '/nothing')).status).toBe(404);
  });

  it('warns at start about an unknown PROXY_* variable, naming the one it resembles', () => {
    expect(lines.some((line) => line.msg === 'unknown variable PROXY_SELECTR is ignored; did you mean PROXY_SELECTOR?' && line.level === 40)).toBe(true);
  });

  it('selector: weighted gives an agent of weight 3 three requests in four', async () => {
    expect(await split()).toEqual({ HEAVY: 30, LIGHT: 10 });
  });

  it('SIGHUP applies a new selector without a restart', async () => {
    await writeFile(file(), `${base}selector: round-robin\n`);
    child.kill('SIGHUP');
    await waitUntil(() => lines.some((line) => line.msg === 'configuration reloaded: selector'), 10_000, 'the reload log line');
    expect(await split()).toEqual({ HEAVY: 20, LIGHT: 20 });
    expect(child.exitCode).toBeNull();
  });
});
