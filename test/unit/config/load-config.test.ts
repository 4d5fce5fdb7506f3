/**
 * The configuration loader, error path by error path: every failure names the file (and line when the
 * parser knows it), the key's path and what was expected; unknown keys and variables get a "did you mean".
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { InvalidConfigError, InvalidEnvError } from '../../../src/shared/errors.js';
import { loadConfig, type LoadedConfig } from '../../../src/proxy/config/load-config.js';
import { getIn } from '../../../src/proxy/config/config-tree.js';
import { DEFAULT_RESPONSE_TIMEOUT_MS } from '../../../src/proxy/data-plane/data-plane-options.js';
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from '../../../src/proxy/control-plane/control-plane-options.js';
import { editDistance, didYouMean } from '../../../src/proxy/config/did-you-mean.js';

let root: string;
let counter = 0;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'inteli-config-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh directory holding `files`. */
async function dirWith(files: Record<string, string>): Promise<string> {
  counter += 1;
  const dir = path.join(root, String(counter));
  await mkdir(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

async function load(files: Record<string, string>, variables: Record<string, string> = {}): Promise<LoadedConfig> {
  return loadConfig({ variables, cwd: await dirWith(files) });
}

async function failure(files: Record<string, string>, variables: Record<string, string> = {}): Promise<InvalidConfigError | InvalidEnvError> {
  try {
    await load(files, variables);
  } catch (error) {
    if (error instanceof InvalidConfigError || error instanceof InvalidEnvError) return error;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

describe('loadConfig: sources', () => {
  it('with no file and no variable, every option has its default', async () => {
    const config = await load({});
    expect(config.file).toBeUndefined();
    expect(config.values.responseTimeoutMs).toBe(DEFAULT_RESPONSE_TIMEOUT_MS);
    expect(getIn(config.values, 'control.heartbeatIntervalMs')).toBe(DEFAULT_HEARTBEAT_INTERVAL_MS);
    expect(config.values.selector).toBe('round-robin');
    expect(Object.isFrozen(config.values)).toBe(true);
  });

  it('reads inteli.yaml in the working directory: the ProxyServer option names, nested sections', async () => {
    const config = await load({ 'inteli.yaml': 'responseTimeoutMs: 1500\nselector: weighted\ncontrol:\n  heartbeatIntervalMs: 2000\n  limits: { burst: 80 }\nadmin: { port: 0 }\n' });
    expect(config.file).toMatch(/inteli\.yaml$/);
    expect(config.values).toMatchObject({ responseTimeoutMs: 1500, selector: 'weighted', control: { heartbeatIntervalMs: 2000, limits: { burst: 80 } }, admin: { port: 0 } });
    // Untouched siblings keep their defaults.
    expect(getIn(config.values, 'control.limits.maxSessionsPerKey')).toBe(8);
  });

  it('reads inteli.yml and inteli.json too, and PROXY_CONFIG names any file', async () => {
    expect((await load({ 'inteli.yml': 'port: 1234\n' })).values.port).toBe(1234);
    expect((await load({ 'inteli.json': '{ "port": 1235, "control": { "missedPongs": 3 } }' })).values.port).toBe(1235);
    const dir = await dirWith({ 'other.conf': 'port: 1236\n', 'inteli.yaml': 'port: 1\n' });
    const config = await loadConfig({ variables: { PROXY_CONFIG: path.join(dir, 'other.conf') }, cwd: dir });
    expect(config.values.port).toBe(1236);
  });

  it('lets a variable override the file, parsed by the option it sets', async () => {
    const config = await load(
      { 'inteli.yaml': 'port: 1234\nselector: least-in-flight\ntrustedProxies: [10.0.0.1]\n' },
      { PROXY_PORT: '0', PROXY_SELECTOR: 'weighted', PROXY_TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8', PROXY_ACCESS_LOG: 'true', PROXY_WS_PORT: '4000', PROXY_WORKERS: 'auto' },
    );
    expect(config.values).toMatchObject({ port: 0, selector: 'weighted', trustedProxies: ['127.0.0.1', '10.0.0.0/8'], accessLog: true, control: { port: 4000 }, workers: 'auto' });
  });

  it('accessLog takes true, false or { query: true }, and the other list and host options their own forms', async () => {
    expect((await load({ 'inteli.yaml': 'accessLog: true\n' })).values.accessLog).toBe(true);
    expect((await load({ 'inteli.yaml': 'accessLog: { query: true }\n' })).values.accessLog).toEqual({ query: true });
    expect((await load({}, { PROXY_ACCESS_LOG: 'true' })).values.accessLog).toBe(true);
    expect((await failure({ 'inteli.yaml': 'accessLog: { qeury: true }\n' })).message).toContain('accessLog.qeury: unknown key; did you mean "accessLog.query"?');
    expect((await load({ 'inteli.yaml': 'admin: { allowedHosts: [proxy.example, 10.0.0.5] }\n' })).values.admin).toMatchObject({ allowedHosts: ['proxy.example', '10.0.0.5'] });
    expect((await failure({ 'inteli.yaml': 'admin: { allowedHosts: ["a b"] }\n' })).message).toContain('admin.allowedHosts: expected a list of host names or IP addresses (at most 64)');
  });

  it('admin: false turns the admin listener off (and a variable of it turns it back on)', async () => {
    expect((await load({ 'inteli.yaml': 'admin: false\n' })).values.admin).toBe(false);
    expect((await load({ 'inteli.yaml': 'admin: false\n' }, { PROXY_ADMIN_PORT: '0' })).values.admin).toMatchObject({ port: 0 });
  });

  it('an empty file configures nothing', async () => {
    expect((await load({ 'inteli.yaml': '' })).values.port).toBe(3080);
  });

  it('warns about an unknown PROXY_* variable, with the closest known name', async () => {
    const config = await load({}, { PROXY_SELECTR: 'weighted', PROXY_WS_URL: 'wss://x:1', HOME: '/root', PROXY_ZZZZZZZZ: '1' });
    expect(config.warnings).toEqual(['unknown variable PROXY_SELECTR is ignored; did you mean PROXY_SELECTOR?', 'unknown variable PROXY_ZZZZZZZZ is ignored']);
  });
});

describe('loadConfig: errors name the file, line, key and what was expected', () => {
  it('a value of the wrong type', async () => {
    const error = await failure({ 'inteli.yaml': 'port: 3080\nresponseTimeoutMs: fast\n' });
    expect(error.code).toBe('RP_ERR_INVALID_CONFIG');
    expect(error.message).toMatch(/inteli\.yaml:2: responseTimeoutMs: expected an integer from 1 to 2147483647, got "fast"$/);
    expect((error as InvalidConfigError).path).toBe('responseTimeoutMs');
  });

  it('a value out of range, deep in a section', async () => {
    const error = await failure({ 'inteli.yaml': 'control:\n  limits:\n    burst: 0\n' });
    expect(error.message).toMatch(/inteli\.yaml:3: control\.limits\.burst: expected an integer from 1 to 100000, got 0$/);
  });

  it('a value outside an enum', async () => {
    const error = await failure({ 'inteli.json': '{ "selector": "random" }' });
    expect(error.message).toMatch(/inteli\.json: selector: expected one of round-robin, least-in-flight, weighted, got "random"$/);
  });

  it('a bad item of a list', async () => {
    const error = await failure({ 'inteli.yaml': 'trustedProxies: [10.0.0.1, not-an-ip]\n' });
    expect(error.message).toContain('trustedProxies: expected a list of IP addresses or CIDRs');
  });

  it('a section that is not an object', async () => {
    const error = await failure({ 'inteli.yaml': 'control: 5\n' });
    expect(error.message).toMatch(/control: expected an object of options, got 5$/);
  });

  it('an unknown key, with a sibling suggestion', async () => {
    const error = await failure({ 'inteli.yaml': 'control:\n  heartbeatIntervalMS: 2000\n' });
    expect(error.message).toMatch(/inteli\.yaml:2: control\.heartbeatIntervalMS: unknown key; did you mean "control\.heartbeatIntervalMs"\?$/);
  });

  it('an unknown key at the wrong level, pointing at where the option lives', async () => {
    const error = await failure({ 'inteli.yaml': 'heartbeatIntervalMs: 2000\n' });
    expect(error.message).toContain('heartbeatIntervalMs: unknown key; did you mean "control.heartbeatIntervalMs"?');
  });

  it('a dotted name instead of nested sections', async () => {
    const error = await failure({ 'inteli.yaml': 'control.limits.burst: 80\n' });
    expect(error.message).toMatch(/inteli\.yaml: control\.limits\.burst: unknown key; nest the sections/);
  });

  it('an unknown key with nothing close: no suggestion', async () => {
    const error = await failure({ 'inteli.yaml': 'banana: 1\n' });
    expect(error.message).toMatch(/banana: unknown key$/);
  });

  it('bad YAML, with its line', async () => {
    const error = await failure({ 'inteli.yaml': 'port: 1\nadmin: [\n' });
    expect(error.message).toMatch(/inteli\.yaml:3: invalid YAML: /);
  });

  it('a duplicate YAML key, with its line', async () => {
    const error = await failure({ 'inteli.yaml': 'port: 1\nport: 2\n' });
    expect(error.message).toMatch(/inteli\.yaml:2: invalid YAML: Map keys must be unique/);
  });

  it('bad JSON, with its line', async () => {
    const error = await failure({ 'inteli.json': '{\n  "port": 1,\n}\n' });
    expect(error.message).toMatch(/inteli\.json:3: invalid JSON: /);
  });

  it('a top level that is not a mapping', async () => {
    const error = await failure({ 'inteli.yaml': '- port\n' });
    expect(error.message).toMatch(/inteli\.yaml: expected a mapping of option names to values/);
  });

  it('a missing PROXY_CONFIG file', async () => {
    const error = await failure({}, { PROXY_CONFIG: '/nonexistent/inteli.yaml' });
    expect(error.message).toBe('/nonexistent/inteli.yaml: cannot read the configuration file: no such file');
  });

  it('two configuration files in the working directory', async () => {
    const error = await failure({ 'inteli.yaml': 'port: 1\n', 'inteli.json': '{}' });
    expect(error.message).toContain('several configuration files in the working directory');
  });

  it('a rule across options that only the library validator knows (clientHeadersTimeoutMs <= clientRequestTimeoutMs)', async () => {
    const error = await failure({ 'inteli.yaml': 'clientHeadersTimeoutMs: 400000\n' });
    expect(error.code).toBe('RP_ERR_INVALID_CONFIG');
    expect(error.message).toMatch(/inteli\.yaml: clientHeadersTimeoutMs \(400000\) must not exceed clientRequestTimeoutMs \(300000\)/);
  });

  it('admin auth off on a non-loopback host is refused like in the library', async () => {
    const error = await failure({ 'inteli.yaml': 'admin: { host: 0.0.0.0, requireAuth: false }\n' });
    expect(error.message).toContain('admin.requireAuth: cannot be false');
  });

  it('an invalid variable names the variable, and wins over a valid file', async () => {
    const error = await failure({ 'inteli.yaml': 'port: 1\n' }, { PROXY_PORT: 'eighty' });
    expect(error).toBeInstanceOf(InvalidEnvError);
    expect(error.message).toBe('PROXY_PORT: expected an integer from 0 to 65535, got "eighty"');
  });

  it('a bad boolean or list variable names it', async () => {
    expect((await failure({}, { PROXY_ACCESS_LOG: 'yes' })).message).toBe('PROXY_ACCESS_LOG: expected true or false, got "yes"');
    expect((await failure({}, { PROXY_TRUSTED_PROXIES: 'x' })).message).toMatch(/^PROXY_TRUSTED_PROXIES: expected comma-separated IP addresses or CIDRs/);
  });
});

describe('did you mean', () => {
  it('measures typos: swaps, drops, case', () => {
    expect(editDistance('burst', 'bursts')).toBe(1);
    expect(editDistance('brust', 'burst')).toBe(1);
    expect(didYouMean('maxframebytes', ['maxFrameBytes', 'burst'])).toBe('maxFrameBytes');
    expect(didYouMean('hearbeat', ['heartbeatIntervalMs', 'missedPongs'])).toBe('heartbeatIntervalMs');
    expect(didYouMean('zzz', ['burst'])).toBeUndefined();
  });
});

describe('loadConfig: the fleet (trustStore.redis)', () => {
  it('has no fleet, and no fleet defaults, unless its URL is given', async () => {
    const config = await load({}, { PROXY_REDIS_PREFIX: 'inteli:', PROXY_TRUST_MAX_STALENESS_MS: '30000' });
    expect(config.values.trustStore).toBeUndefined();
  });

  it('PROXY_REDIS_URL joins one, with its defaults and the other fleet variables', async () => {
    const config = await load({}, { PROXY_REDIS_URL: 'redis://:pw@127.0.0.1:6379', PROXY_NODE_ID: 'edge-1' });
    expect(config.values.trustStore).toEqual({
      redis: { url: 'redis://:pw@127.0.0.1:6379', prefix: 'inteli:', connectTimeoutMs: 5000, commandTimeoutMs: 2000, trustMaxStalenessMs: 30000, nodeId: 'edge-1', membershipTtlMs: 5000 },
    });
  });

  it('a file may set it too, and the library validator checks what spans options', async () => {
    const error = await failure({ 'inteli.yaml': 'trustStore:\n  redis: { url: "redis://127.0.0.1:6379", trustMaxStalenessMs: 3000, streamBlockMs: 2000 }\n' });
    expect(error.message).toContain('streamBlockMs: must be at most a third of trustMaxStalenessMs');
  });

  it('never echoes a bad URL (it may hold a password)', async () => {
    const fromFile = await failure({ 'inteli.yaml': 'trustStore: { redis: { url: "http://user:hunter2@x" } }\n' });
    expect(fromFile.message).toMatch(/trustStore\.redis\.url: expected a redis:\/\/ or rediss:\/\/ URL/);
    expect(fromFile.message).not.toContain('hunter2');
    const fromVariable = await failure({}, { PROXY_REDIS_URL: 'x'.repeat(3000) + 'hunter2' });
    expect(fromVariable.message).toBe('PROXY_REDIS_URL: expected a string of 1 to 2048 characters, got another value (not shown: a secret)');
  });
});
