/**
 * Reload without dropping anything (issue 15): a running proxy built from a configuration file, reloaded
 * as SIGHUP does. New requests get the new live options (the response timeout, the selector, limits, log
 * level), a request in flight completes under the timeout it was dispatched with, an invalid file is
 * refused and the running configuration kept, and a changed restart-only option is reported by name.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConfigReloader } from '../../../src/proxy/config/config-reloader.js';
import { plainServerOptions } from '../../../src/proxy/config/config-options.js';
import { type LoadedConfig, loadConfig } from '../../../src/proxy/config/load-config.js';
import { SELECTORS } from '../../../src/proxy/data-plane/selectors/index.js';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { createLogger } from '../../../src/shared/logger.js';
import { TrustStore } from '../../../src/shared/trust/index.js';
import { type TestBackend, startBackend } from '../../helpers/data-plane-backends.js';
import { register, send, whoAnswers } from '../../helpers/data-plane-client.js';
import { waitUntil } from '../../helpers/wait-until.js';

/** The file every test edits; `listen` keeps the listeners the same across reloads (restart-only). */
const listen = 'host: 127.0.0.1\nport: 0\nadmin: false\nshutdownTimeoutMs: 2000\n';

let dir: string;
let file: string;
let proxy: ProxyServer;
let port: number;
let reloader: ConfigReloader;
const logLines: Array<Record<string, unknown>> = [];
const backends: TestBackend[] = [];
/** Answers of the slow backend, released by the test. */
const held: Array<() => void> = [];

function load(): Promise<LoadedConfig> {
  return loadConfig({ variables: { PROXY_CONFIG: file }, cwd: dir });
}

/** Writes the file: the listeners, `text`, and the control plane with `limits` (YAML flow mapping) if given. */
async function writeConfig(text: string, limits?: string): Promise<void> {
  const control = `control: { host: 127.0.0.1, port: 0, insecure: true${limits === undefined ? '' : `, limits: ${limits}`} }\n`;
  await writeFile(file, `${listen}${control}${text}`);
}

async function split(count: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let index = 0; index < count; index += 1) {
    const name = await whoAnswers(port, '/api');
    seen[name] = (seen[name] ?? 0) + 1;
  }
  return seen;
}

function logged(message: string): Array<Record<string, unknown>> {
  return logLines.filter((line) => typeof line.msg === 'string' && line.msg.startsWith(message));
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'inteli-reload-'));
  file = path.join(dir, 'inteli.yaml');
  await writeConfig('responseTimeoutMs: 60000\nselector: round-robin\n');
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString().split('\n')) if (text !== '') logLines.push(JSON.parse(text) as Record<string, unknown>);
      callback();
    },
  });
  const logger = createLogger({ level: 'info', destination });
  const config = await load();
  proxy = new ProxyServer({ ...plainServerOptions(config.values, 'single'), trustStore: TrustStore.inMemory(), logger });
  port = (await proxy.start()).http!.port;
  reloader = new ConfigReloader({ load, current: config, apply: (settings) => proxy.reconfigure(settings), logger });
  backends.push(await startBackend('heavy'), await startBackend('light'));
  backends.push(
    await startBackend('slow', (req, res) => {
      req.resume();
      held.push(() => res.end('slow answer'));
    }),
  );
  register(proxy, backends[0]!, ['/api'], 3);
  register(proxy, backends[1]!, ['/api'], 1);
  register(proxy, backends[2]!, ['/slow']);
});

afterAll(async () => {
  for (const release of held.splice(0)) release();
  reloader?.stop();
  await proxy?.stop();
  await Promise.all(backends.map((backend) => backend.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('reloading the configuration of a running proxy', () => {
  it('applies responseTimeoutMs and selector to new requests while a request in flight completes', async () => {
    expect(await split(40)).toEqual({ heavy: 20, light: 20 });
    const inFlight = send(port, '/slow');
    await waitFor(() => held.length === 1);

    await writeConfig('responseTimeoutMs: 1000\nselector: weighted\n');
    const outcome = await reloader.reload('test');
    expect(outcome).toEqual({ applied: ['selector', 'responseTimeoutMs'], restartRequired: [] });
    expect(proxy.dataPlane.options.responseTimeoutMs).toBe(1000);
    expect(proxy.dataPlane.options.selector).toBe(SELECTORS.weighted);

    // The weights now count: 3 to 1.
    expect(await split(40)).toEqual({ heavy: 30, light: 10 });
    // A new request to the slow backend gets the new 1 s timeout...
    const late = await send(port, '/slow');
    expect(late.status).toBe(504);
    // ...while the one dispatched before the reload, older than 1 s by now, still gets its answer.
    held.shift()!();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('slow answer');
    for (const release of held.splice(0)) release();
    expect(logged('configuration reloaded: selector, responseTimeoutMs')).toHaveLength(1);
  });

  it('applies control-plane limits and the log level live', async () => {
    await writeConfig('responseTimeoutMs: 1000\nselector: weighted\nlogLevel: warn\n', '{ burst: 7, maxSessionsPerKey: 3, maxPendingHandshakes: 8 }');
    const outcome = await reloader.reload('test');
    expect(outcome.applied).toEqual(['control.limits.burst', 'control.limits.maxSessionsPerKey', 'control.limits.maxPendingHandshakes', 'logLevel']);
    // The unknown callers' share is computed again from the new maxPendingHandshakes (a quarter of 8).
    expect(proxy.controlPlane!.limits).toMatchObject({ burst: 7, maxSessionsPerKey: 3, maxPendingHandshakes: 8, maxPendingUnknownHandshakes: 2 });
    expect(proxy.options.logger.level).toBe('warn');
    // Back to info for the next tests' log assertions.
    await writeConfig('responseTimeoutMs: 1000\nselector: weighted\n', '{ burst: 7, maxSessionsPerKey: 3, maxPendingHandshakes: 8 }');
    expect((await reloader.reload('test')).applied).toEqual(['logLevel']);
  });

  it('a new connectTimeoutMs moves each origin to a new pool while a request in flight on the old one completes', async () => {
    const inFlight = send(port, '/slow');
    await waitFor(() => held.length === 1);
    await proxy.reconfigure({ dataPlane: { connectTimeoutMs: 2500 } });
    expect(proxy.dataPlane.options.connectTimeoutMs).toBe(2500);
    expect(await split(4)).toEqual({ heavy: 3, light: 1 });
    held.shift()!();
    expect((await inFlight).status).toBe(200);
  });

  it('refuses an invalid file with a log line saying why, and keeps the running configuration', async () => {
    const before = reloader.current;
    await writeConfig('responseTimeoutMs: -1\nselector: round-robin\n', '{ burst: 7, maxSessionsPerKey: 3, maxPendingHandshakes: 8 }');
    const outcome = await reloader.reload('test');
    expect(outcome.applied).toEqual([]);
    expect(outcome.error).toMatch(/inteli\.yaml:\d+: responseTimeoutMs: expected an integer from 1 to 2147483647, got -1$/);
    const refusal = logged('configuration refused, keeping the current one');
    expect(refusal).toHaveLength(1);
    expect(refusal[0]).toMatchObject({ level: 50, reason: outcome.error });
    expect(reloader.current).toBe(before);
    expect(proxy.dataPlane.options.responseTimeoutMs).toBe(1000);
    expect(await split(4)).toEqual({ heavy: 3, light: 1 });
  });

  it('reports a changed restart-only option by name and leaves it as it runs, applying the live ones', async () => {
    await writeConfig('responseTimeoutMs: 1000\nselector: weighted\nmaxHeaderSize: 20000\naccessLog: { query: true }\n', '{ burst: 7, maxSessionsPerKey: 3, maxPendingHandshakes: 8 }');
    const outcome = await reloader.reload('test');
    expect(outcome).toEqual({ applied: ['accessLog', 'accessLog.query'], restartRequired: ['maxHeaderSize'] });
    expect(proxy.dataPlane.options.accessLogQuery).toBe(true);
    const warning = logged('changed options need a restart to take effect: maxHeaderSize');
    expect(warning).toHaveLength(1);
    expect(warning[0]).toMatchObject({ level: 40, options: ['maxHeaderSize'] });
    expect(proxy.dataPlane.options.maxHeaderSize).toBe(16384);
    expect(proxy.dataPlane.options.accessLog).toBe(true);
    // Still reported on the next reload, since it still differs from what runs.
    expect((await reloader.reload('test')).restartRequired).toEqual(['maxHeaderSize']);
  });

  it('with watchConfig: true, saving the file reloads it', async () => {
    await writeConfig('responseTimeoutMs: 1000\nselector: weighted\nmaxHeaderSize: 20000\naccessLog: { query: true }\nwatchConfig: true\n', '{ burst: 7, maxSessionsPerKey: 3, maxPendingHandshakes: 8 }');
    expect((await reloader.reload('test')).applied).toEqual(['watchConfig']);
    expect(logged('watching the configuration file')).toHaveLength(1);
    await writeConfig('responseTimeoutMs: 1000\nselector: weighted\nmaxHeaderSize: 20000\naccessLog: false\nwatchConfig: true\n', '{ burst: 7, maxSessionsPerKey: 3, maxPendingHandshakes: 8 }');
    await waitUntil(() => !proxy.dataPlane.options.accessLog, 10_000, 'the file change to be applied');
    expect(logged('configuration reloaded: accessLog').some((line) => line.trigger === 'file changed')).toBe(true);
  });
});

/** Resolves once `check()` holds (the slow backend saw the request); bounded. */
function waitFor(check: () => boolean): Promise<void> {
  return waitUntil(check, 5000, 'the slow backend to receive the request');
}
