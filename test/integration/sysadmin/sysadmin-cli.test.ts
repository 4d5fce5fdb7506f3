import { describe, it, expect, beforeAll, afterAll, afterEach } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { startControlPlane, nextEvent, type ControlPlaneFixture, type TestKey } from '../../helpers/control-plane-fixture.js';
import { runCli, SYSADMIN_COMMANDS } from '../../../src/sysadmin/run-cli.js';
import { writeKeyPair } from '../../../src/shared/identity/write-key-pair.js';
import { ProxyWebServer, type ProxyWebServerOptions } from '../../../src/webserver-agent/proxy-web-server.js';
import { readSysadminEnv } from '../../../src/shared/env.js';
import { TrustStore } from '../../../src/shared/trust/index.js';
import { collector } from '../../helpers/cli-output.js';
import { helloServer, writeJson } from './sysadmin-helpers.js';

let fixture: ControlPlaneFixture;
let admin: TestKey;
let dir: string;
let adminKeyFile: string;
let connection: string[];
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  fixture = await startControlPlane();
  admin = await fixture.addKey('ops', { role: 'admin' });
  dir = await mkdtemp(path.join(tmpdir(), 'inteli-sysadmin-cli-'));
  adminKeyFile = await writeJson(dir, 'ops.key.json', admin.privateJwk);
  connection = ['--proxy', fixture.url, '--id', 'ops', '--key', adminKeyFile, '--pin', fixture.controlPlane.pin as string];
});

afterAll(async () => {
  await fixture.close();
  await rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

/** Runs the CLI with the connection flags and returns exit code and output. */
async function cli(args: string[], extra: string[] = connection): Promise<{ code: number; out: string; err: string }> {
  const io = collector();
  const code = await runCli([...args, ...extra], io);
  return { code, out: io.out(), err: io.err() };
}

/** A key pair written by keygen into the temp dir; returns the public file. */
async function pubFile(id: string): Promise<string> {
  return (await writeKeyPair(id, path.join(dir, 'agents'))).publicPath;
}

function agent(id: string, options: Partial<ProxyWebServerOptions>): ProxyWebServer {
  const web = new ProxyWebServer({
    proxyUrl: fixture.url,
    agentId: id,
    key: path.join(dir, 'agents', `${id}.key.json`),
    server: helloServer(),
    rules: ['/api'],
    pin: fixture.controlPlane.pin,
    drainTimeoutMs: 500,
    closeGraceMs: 100,
    ...options,
  });
  web.on('error', () => undefined);
  cleanups.push(() => web.stop());
  return web;
}

describe('inteli-sysadmin keys', () => {
  it('keys list prints an aligned table, and --json the keys', async () => {
    const human = await cli(['keys', 'list']);
    expect(human.code).toBe(0);
    const lines = human.out.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+ROLE\s+SESSIONS\s+RULES\s+HOSTS\s+FINGERPRINT\s+CREATED$/);
    const row = lines.find((line) => line.startsWith('ops '));
    expect(row).toMatch(/^ops\s+admin\s+1\s+-\s+-\s+[A-Za-z0-9_-]{43}\s+\d{4}-/);
    // Columns are aligned: every line has ROLE at the same offset.
    expect(lines.every((line) => line.indexOf(line.split(/\s+/)[1] as string) === lines[0]!.indexOf('ROLE'))).toBe(true);
    const json = await cli(['keys', 'list', '--json']);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.out) as { keys: Array<{ id: string; role: string }> }).keys).toContainEqual(expect.objectContaining({ id: 'ops', role: 'admin' }));
  });

  it('reads the connection settings from the environment when no flag is given', async () => {
    const io = collector();
    const env = readSysadminEnv({ PROXY_WS_URL: fixture.url, INTELI_ADMIN_ID: 'ops', INTELI_ADMIN_KEY: adminKeyFile, INTELI_PROXY_PIN: fixture.controlPlane.pin });
    expect(await runCli(['keys', 'list', '--json'], io, { env: () => env })).toBe(0);
    // The list came from this proxy (its trust store), reached with the environment's URL, id and key.
    const listed = (JSON.parse(io.out()) as { keys: Array<{ id: string }> }).keys.map((entry) => entry.id);
    expect(listed).toEqual(fixture.trustStore.list().map((entry) => entry.id));
    expect(listed).toContain('ops');
    // And the pin is taken from it too: a wrong one makes the same command fail.
    const wrong = collector();
    const wrongEnv = readSysadminEnv({ PROXY_WS_URL: fixture.url, INTELI_ADMIN_ID: 'ops', INTELI_ADMIN_KEY: adminKeyFile, INTELI_PROXY_PIN: 'A'.repeat(43) + '=' });
    expect(await runCli(['keys', 'list', '--json'], wrong, { env: () => wrongEnv })).toBe(1);
    expect(wrong.err()).toContain('does not match the configured pin');
  });

  it('keys add trusts a .pub.json with rules and hosts, at once', async () => {
    const file = await pubFile('CLI001');
    const result = await cli(['keys', 'add', 'CLI001', file, '--rule', '/api', '--rule', '/static', '--host', '127.0.0.1']);
    expect(result).toMatchObject({ code: 0, err: '' });
    expect(result.out).toContain('added key "CLI001" (role agent)');
    expect(result.out).toMatch(/rules: +\/api, \/static/);
    expect(fixture.trustStore.get('CLI001')).toMatchObject({ role: 'agent', scope: { rules: ['/api', '/static'], hosts: ['127.0.0.1'] } });
  });

  it('keys add --json prints the stored key; --replace replaces it', async () => {
    const file = await pubFile('CLI002');
    const first = await cli(['keys', 'add', 'CLI002', file, '--rule', '/a', '--json']);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.out)).toMatchObject({ key: { id: 'CLI002', scope: { rules: ['/a'] } }, warnings: [] });
    const again = await cli(['keys', 'add', 'CLI002', file, '--rule', '/b']);
    expect(again.code).toBe(1);
    expect(again.err).toContain('RP_ERR_ALREADY_EXISTS');
    const replaced = await cli(['keys', 'add', 'CLI002', file, '--rule', '/b', '--replace']);
    expect(replaced.code).toBe(0);
    expect(replaced.out).toContain('replaced key "CLI002"');
    expect(fixture.trustStore.get('CLI002')?.scope).toEqual({ rules: ['/b'] });
  });

  it('keys add refuses an agent key without --rule (exit 2) unless --no-rules, which warns', async () => {
    const file = await pubFile('CLI003');
    const refused = await cli(['keys', 'add', 'CLI003', file]);
    expect(refused.code).toBe(2);
    expect(refused.err.trim().split('\n')).toHaveLength(1);
    expect(refused.err).toContain('--no-rules');
    expect(fixture.trustStore.get('CLI003')).toBeUndefined();
    const added = await cli(['keys', 'add', 'CLI003', file, '--no-rules']);
    expect(added.code).toBe(0);
    expect(added.err).toContain('warning: key "CLI003" has no rules');
    expect(added.out).toContain('(none: may register nothing)');
    expect(fixture.trustStore.get('CLI003')?.scope).toEqual({});
  });

  it.each([['/api/*', 1], ['/(x|y)', 2], ['^/x.*', 3]])('keys add refuses the rule %s that registration would refuse (exit 2, nothing stored)', async (rule, n) => {
    const file = await pubFile(`CLIRULE${n}`);
    const refused = await cli(['keys', 'add', `CLIRULE${n}`, file, '--rule', '/ok', '--rule', rule]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('--rule: invalid rule');
    expect(refused.err).toContain(JSON.stringify(rule));
    expect(fixture.trustStore.get(`CLIRULE${n}`)).toBeUndefined();
  });

  it('keys add --role admin needs no rules', async () => {
    const result = await cli(['keys', 'add', 'CLI004', await pubFile('CLI004'), '--role', 'admin']);
    expect(result).toMatchObject({ code: 0, err: '' });
    expect(fixture.trustStore.get('CLI004')?.role).toBe('admin');
  });

  it('keys remove removes a key; an unknown id fails with exit 1', async () => {
    await cli(['keys', 'add', 'CLI005', await pubFile('CLI005'), '--rule', '/x']);
    const removed = await cli(['keys', 'remove', 'CLI005']);
    expect(removed).toMatchObject({ code: 0, out: 'removed key "CLI005"; closed 0 live sessions\n' });
    expect(fixture.trustStore.get('CLI005')).toBeUndefined();
    const unknown = await cli(['keys', 'remove', 'CLI005']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toBe('inteli-sysadmin keys remove: no key with id "CLI005" [RP_ERR_UNKNOWN_ID]\n');
  });

  it('an admin command with an agent key is refused with RP_ERR_FORBIDDEN', async () => {
    await cli(['keys', 'add', 'CLI006', await pubFile('CLI006'), '--rule', '/x']);
    const result = await cli(['keys', 'list'], ['--proxy', fixture.url, '--id', 'CLI006', '--key', path.join(dir, 'agents', 'CLI006.key.json'), '--pin', fixture.controlPlane.pin as string]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/needs an admin key \[RP_ERR_FORBIDDEN\]/);
    expect(result.out).toBe('');
  });
});

describe('inteli-sysadmin with live agents', () => {
  it('keys remove disconnects the live backend of the key at once', async () => {
    await cli(['keys', 'add', 'CLI010', await pubFile('CLI010'), '--rule', '/api', '--host', '127.0.0.1']);
    const web = agent('CLI010', { reconnect: { initialDelayMs: 5000, maxDelayMs: 5000 } });
    await web.start();
    const disconnected = nextEvent<[{ code: number }]>(web, 'disconnected');
    const result = await cli(['keys', 'remove', 'CLI010']);
    expect(result.out).toContain('closed 1 live session');
    expect((await disconnected)[0].code).toBe(4003);
    expect(fixture.registry.list().filter((backend) => backend.agentId === 'CLI010')).toEqual([]);
  });

  it('keys add lets a waiting agent in: it registers on its next retry', async () => {
    const file = await pubFile('CLI011');
    await cli(['keys', 'add', 'CLI011', file, '--rule', '/api', '--host', '127.0.0.1']);
    const web = agent('CLI011', { reconnect: { initialDelayMs: 20, maxDelayMs: 100, jitter: 0 } });
    await web.start();
    // Revoke it: the agent keeps retrying with backoff and is refused each time.
    const refused = nextEvent(web, 'error');
    await cli(['keys', 'remove', 'CLI011']);
    await refused;
    expect(web.registered).toBe(false);
    const registered = nextEvent(web, 'registered');
    expect((await cli(['keys', 'add', 'CLI011', file, '--rule', '/api', '--host', '127.0.0.1'])).code).toBe(0);
    await registered;
    expect(fixture.registry.list().filter((backend) => backend.agentId === 'CLI011')).toHaveLength(1);
  });

  it('backends list shows live backends with their rules, targets and state', async () => {
    await cli(['keys', 'add', 'CLI012', await pubFile('CLI012'), '--rule', '/api', '--rule', '/web', '--host', '127.0.0.1']);
    const server = helloServer();
    await agent('CLI012', { server, rules: ['/api', '/web'] }).start();
    const port = (server.address() as AddressInfo).port;
    const manual = fixture.registry.add({ agentId: 'MANUAL', targets: [{ protocol: 'http', host: '127.0.0.1', port: 9 }], rules: [{ path: '/old', host: 'example.test' }] });
    fixture.registry.setState(manual.id, 'draining');
    cleanups.push(async () => fixture.registry.remove(manual.id, 'left'));
    const result = await cli(['backends', 'list']);
    expect(result.code).toBe(0);
    const lines = result.out.trim().split('\n');
    expect(lines[0]).toMatch(/^AGENT\s+STATE\s+RULES\s+TARGETS\s+WEIGHT\s+SINCE\s+BACKEND$/);
    expect(lines.find((line) => line.startsWith('CLI012 '))).toMatch(new RegExp(`^CLI012\\s+ready\\s+/api,/web\\s+http://127\\.0\\.0\\.1:${port}\\s+1\\s+`));
    expect(lines.find((line) => line.startsWith('MANUAL '))).toMatch(/^MANUAL\s+draining\s+example\.test\/old\s+http:\/\/127\.0\.0\.1:9\s+/);
    const json = JSON.parse((await cli(['backends', 'list', '--json'])).out) as { backends: Array<{ agentId: string; state: string; registeredAt: unknown }> };
    expect(json.backends).toContainEqual(expect.objectContaining({ agentId: 'CLI012', state: 'ready' }));
    // Timestamps in --json are ISO 8601, as the keys' createdAt is.
    for (const backend of json.backends) expect(backend.registeredAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('backends drain and undrain through the CLI, naming the backends; the agent is told', async () => {
    await cli(['keys', 'add', 'CLI013', await pubFile('CLI013'), '--rule', '/api', '--host', '127.0.0.1']);
    const web = agent('CLI013', {});
    const told: boolean[] = [];
    web.on('admin_drain', (info) => told.push(info.drained));
    await web.start();
    const [backend] = fixture.registry.list().filter((item) => item.agentId === 'CLI013');
    const drained = nextEvent<[{ drained: boolean }]>(web, 'admin_drain');
    const result = await cli(['backends', 'drain', 'CLI013', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toEqual({ agentId: 'CLI013', backendIds: [backend!.id] });
    await drained;
    expect(fixture.registry.get(backend!.id)?.state).toBe('draining');
    const text = await cli(['backends', 'drain', 'CLI013']);
    expect(text.out).toContain(backend!.id);
    const undrained = nextEvent<[{ drained: boolean }]>(web, 'admin_drain');
    const undo = await cli(['backends', 'undrain', 'CLI013']);
    expect(undo.code).toBe(0);
    expect(undo.out).toContain(`undrained agent "CLI013": 1 backend (${backend!.id})`);
    await undrained;
    expect(fixture.registry.get(backend!.id)?.state).toBe('ready');
    expect(told).toEqual([true, true, false]);
    const unknown = await cli(['backends', 'undrain', 'NOBODY']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('RP_ERR_UNKNOWN_ID');
  });
});

describe('inteli-sysadmin init', () => {
  it('creates an admin key that a proxy on the same certstore accepts', async () => {
    const base = await mkdtemp(path.join(tmpdir(), 'inteli-init-'));
    cleanups.push(() => rm(base, { recursive: true, force: true }));
    const certstore = path.join(base, 'certstore');
    const io = collector();
    expect(await runCli(['init', '--certstore', certstore, '--out', path.join(base, 'keys'), '--id', 'root'], io)).toBe(0);
    expect(io.out()).toContain('admin key "root" created and trusted with role admin');
    const proxy = await startControlPlane({ trustStore: await TrustStore.open(certstore) });
    cleanups.push(() => proxy.close());
    const listed = await cli(['keys', 'list', '--json'], ['--proxy', proxy.url, '--id', 'root', '--key', path.join(base, 'keys', 'root.key.json'), '--pin', proxy.controlPlane.pin as string]);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.out)).toMatchObject({ keys: [{ id: 'root', role: 'admin' }] });
  });
});

describe('inteli-sysadmin bad input', () => {
  it.each([
    ['a missing public key file', () => ['keys', 'add', 'BAD001', path.join(dir, 'missing.pub.json'), '--rule', '/x'], 1, /no such file \[RP_ERR_INVALID_KEY\]/],
    ['a malformed public key file', async () => ['keys', 'add', 'BAD002', await writeJson(dir, 'bad.pub.json', { kty: 'RSA' }), '--rule', '/x'], 1, /kty must be "OKP".*\[RP_ERR_INVALID_KEY\]/],
    ['a private key given as the public key', async () => ['keys', 'add', 'BAD003', await writeJson(dir, 'private.pub.json', admin.privateJwk), '--rule', '/x'], 1, /private key material.*\[RP_ERR_INVALID_KEY\]/],
    ['a file that is neither JSON nor PEM', async () => {
      const file = path.join(dir, 'garbage.pub');
      await writeFile(file, 'garbage');
      return ['keys', 'add', 'BAD004', file, '--rule', '/x'];
    }, 1, /neither a JWK \(JSON\) nor an SPKI PEM/],
    ['a bad id', () => ['keys', 'remove', '../etc/passwd'], 1, /invalid id .*\[RP_ERR_INVALID_ID\]/],
    ['a bad rule', async () => ['keys', 'add', 'BAD005', await pubFile('BAD005'), '--rule', 'no-slash'], 2, /--rule: invalid rule "no-slash": a rule needs a path.*\[RP_ERR_INVALID_OPTION\]/],
    ['a bad role', async () => ['keys', 'add', 'BAD006', await pubFile('BAD006'), '--role', 'root'], 2, /--role: expected agent or admin/],
  ])('%s gives a clear one-line message and a non-zero exit', async (_name, argv, code, message) => {
    const result = await cli(await argv());
    expect(result.code).toBe(code);
    expect(result.err.trim().split('\n')).toHaveLength(1);
    expect(result.err).toMatch(message);
    expect(fixture.trustStore.list().map((key) => key.id).filter((id) => id.startsWith('BAD'))).toEqual([]);
  });

  it('a missing admin key file fails with exit 1 naming the file', async () => {
    const result = await cli(['keys', 'list'], ['--proxy', fixture.url, '--id', 'ops', '--key', path.join(dir, 'nope.key.json'), '--pin', fixture.controlPlane.pin as string]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^inteli-sysadmin keys list: cannot read private key file .*nope\.key\.json.*\[RP_ERR_INVALID_KEY\]\n$/);
  });

  it('an unreachable proxy fails with exit 1 and a hint', async () => {
    const result = await cli(['keys', 'list'], ['--proxy', 'wss://127.0.0.1:1', '--key', adminKeyFile, '--id', 'ops', '--pin', fixture.controlPlane.pin as string]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/cannot connect to the proxy at wss:\/\/127\.0\.0\.1:1.*is the proxy running.*\[RP_ERR_DISCONNECTED\]\n$/);
  });

  it('a wrong pin fails with exit 1 and names the mismatch', async () => {
    const result = await cli(['keys', 'list'], ['--proxy', fixture.url, '--key', adminKeyFile, '--id', 'ops', '--pin', Buffer.alloc(32, 1).toString('base64')]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/does not match the configured pin.*check --pin.*\[RP_ERR_TLS\]/);
  });

  it('--json failures print the error as JSON on stdout too', async () => {
    const result = await cli(['keys', 'remove', 'NOPE', '--json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.out)).toEqual({ error: { code: 'RP_ERR_UNKNOWN_ID', message: 'no key with id "NOPE"' } });
  });

  it.each([
    [['keys', 'list', '--timeout', 'soon'], /--timeout: expected milliseconds/],
    [['keys', 'list', '--proxy', 'ws://127.0.0.1:1'], /--proxy: expected a wss:\/\/ URL/],
    [['keys', 'list', '--pin', 'abc'], /--pin: expected a base64 SHA-256/],
    [['keys', 'list', '--ca', 'ca.pem', '--insecure'], /--pin, --ca and --insecure are exclusive/],
    [['keys', 'add', 'X'], /expected <id> <pubfile>/],
    [['keys', 'list', '--bogus'], /Unknown option '--bogus'/],
  ])('bad usage %j exits 2 with one line', async (argv, message) => {
    const io = collector();
    expect(await runCli(argv, io)).toBe(2);
    expect(io.err().trim().split('\n')).toHaveLength(1);
    expect(io.err()).toMatch(message);
  });

  it('a bad environment variable exits 2 naming it, and does not affect offline commands', async () => {
    const env = (): ReturnType<typeof readSysadminEnv> => readSysadminEnv({ PROXY_WS_URL: 'http://nope' });
    const io = collector();
    expect(await runCli(['keys', 'list'], io, { env })).toBe(2);
    expect(io.err()).toMatch(/PROXY_WS_URL: expected a wss:\/\/host:port URL.*\[RP_ERR_INVALID_ENV\]/);
    expect(await runCli(['keygen', 'ENV001', '--out', path.join(dir, 'env')], collector(), { env })).toBe(0);
  });

  it('every command answers --help with its usage and exit 0', async () => {
    for (const command of SYSADMIN_COMMANDS) {
      const io = collector();
      expect(await runCli([...command.name.split(' '), '--help'], io)).toBe(0);
      expect(io.out()).toContain(`Usage: inteli-sysadmin ${command.name}`);
    }
    const io = collector();
    expect(await runCli(['--help'], io)).toBe(0);
    for (const command of SYSADMIN_COMMANDS) expect(io.out()).toContain(command.name);
  });
});
