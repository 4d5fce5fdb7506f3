import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startControlPlane, nextEvent, type ControlPlaneFixture } from '../../helpers/control-plane-fixture.js';
import { withTimeout } from '../../helpers/control-plane-client.js';
import { writeKeyPair } from '../../../src/shared/identity/write-key-pair.js';
import { parsePublicJwk } from '../../../src/shared/identity/jwk.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runAgentCli } from '../../../src/webserver-agent/run-agent-cli.js';

let fixture: ControlPlaneFixture;
let dir: string;
let server: http.Server;
let keyFile: string;

beforeEach(async () => {
  fixture = await startControlPlane();
  dir = await mkdtemp(path.join(tmpdir(), 'inteli-agent-'));
  const written = await writeKeyPair('SIDECAR1', dir);
  keyFile = written.privatePath;
  const publicKey = parsePublicJwk(JSON.parse(await readFile(written.publicPath, 'utf8')));
  await fixture.trustStore.add({ id: 'SIDECAR1', publicKey, scope: { rules: ['/legacy'], hosts: ['127.0.0.1'] } });
  server = http.createServer((_req, res) => res.end('legacy app'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

/** Agent CLIs started by a test and not finished: the after-hook sends them SIGTERM (bounded wait). */
const runs = new Set<{ signals: EventEmitter; exit: Promise<number> }>();

/** Runs the agent CLI in this process with its own signal emitter, tracked until it returns. */
function runTracked(args: string[], out: ReturnType<typeof io>, options: { signals?: EventEmitter; onRegistered?: () => void } = {}): Promise<number> {
  const signals = options.signals ?? new EventEmitter();
  const run = { signals, exit: runAgentCli(args, out, { signals, logger: silentLogger(), ...(options.onRegistered === undefined ? {} : { onRegistered: options.onRegistered }) }) };
  runs.add(run);
  return run.exit.finally(() => runs.delete(run));
}

afterEach(async () => {
  // A test that failed half-way must not leave its agent dialling the next test's control plane.
  for (const run of [...runs]) {
    run.signals.emit('SIGTERM', 'SIGTERM');
    await withTimeout(run.exit, 10_000, 'the agent CLI to exit on SIGTERM').catch(() => undefined);
  }
  await new Promise((resolve) => server.close(resolve));
  await fixture.close();
  await rm(dir, { recursive: true, force: true });
});

function io(): { stdout: { write: (s: string) => void }; stderr: { write: (s: string) => void }; err: () => string } {
  let err = '';
  return { stdout: { write: () => undefined }, stderr: { write: (s) => (err += s) }, err: () => err };
}

function argv(extra: string[] = []): string[] {
  const port = (server.address() as AddressInfo).port;
  return ['--proxy', fixture.url, '--id', 'SIDECAR1', '--key', keyFile, '--target', `127.0.0.1:${port}`, '--rule', '/legacy', '--pin', fixture.controlPlane.pin!, ...extra];
}

describe('inteli-agent sidecar', () => {
  it('registers an existing server, drains it on SIGTERM, exits 0 and leaves the server running', async () => {
    const signals = new EventEmitter();
    const exit = manualDeferred<number>();
    const registered = manualDeferred<void>();
    void runTracked(argv(), io(), { signals, onRegistered: () => registered.resolve() }).then((code) => exit.resolve(code));
    await registered.promise;
    expect(fixture.registry.list()[0]).toMatchObject({ agentId: 'SIDECAR1', targets: [{ port: (server.address() as AddressInfo).port }] });
    const removed = nextEvent<[unknown, string]>(fixture.controlPlane, 'backend_removed');
    signals.emit('SIGTERM', 'SIGTERM');
    expect(await exit.promise).toBe(0);
    expect((await removed)[1]).toBe('drained');
    expect(server.listening).toBe(true);
    expect(signals.listenerCount('SIGTERM')).toBe(0);
  });

  it('drains (not just leaves) when SIGTERM arrives while the registration is being acknowledged', async () => {
    const signals = new EventEmitter();
    fixture.controlPlane.once('backend_added', () => signals.emit('SIGTERM', 'SIGTERM'));
    const removed = nextEvent<[unknown, string]>(fixture.controlPlane, 'backend_removed');
    expect(await runTracked(argv(), io(), { signals })).toBe(0);
    expect((await removed)[1]).toBe('drained');
  });

  it('exits 1 with one line when the proxy refuses the registration (rule out of scope)', async () => {
    const out = io();
    const code = await runTracked([...argv(), '--rule', '/'], out);
    expect(code).toBe(1);
    expect(out.err().trim().split('\n')).toHaveLength(1);
    expect(out.err()).toContain('RP_ERR_OUT_OF_SCOPE');
  });

  it('exits 1 with one line on an unreadable key file', async () => {
    const out = io();
    const args = argv();
    args[args.indexOf('--key') + 1] = path.join(dir, 'missing.key.json');
    expect(await runTracked(args, out)).toBe(1);
    expect(out.err()).toContain('RP_ERR_INVALID_KEY');
  });

  it('--proxy twice: registers with both proxies, drains on both on SIGTERM', async () => {
    const second = await startControlPlane({ trustStore: fixture.trustStore });
    try {
      const signals = new EventEmitter();
      const exit = manualDeferred<number>();
      const registered = manualDeferred<void>();
      // One --pin for both proxies (they share the test certificate).
      void runTracked([...argv(), '--proxy', second.url], io(), { signals, onRegistered: () => registered.resolve() }).then((code) => exit.resolve(code));
      await registered.promise;
      expect(fixture.registry.list().map((backend) => backend.agentId)).toEqual(['SIDECAR1']);
      expect(second.registry.list().map((backend) => backend.agentId)).toEqual(['SIDECAR1']);
      const removed = [fixture, second].map((proxy) => nextEvent<[unknown, string]>(proxy.controlPlane, 'backend_removed'));
      signals.emit('SIGTERM', 'SIGTERM');
      expect(await exit.promise).toBe(0);
      expect((await Promise.all(removed)).map(([, reason]) => reason)).toEqual(['drained', 'drained']);
    } finally {
      await second.close();
    }
  });

  it('exits 2 when the --pin count fits neither one for all nor one per --proxy', async () => {
    const out = io();
    const code = await runTracked([...argv(), '--proxy', 'wss://127.0.0.1:1', '--proxy', 'wss://127.0.0.1:2', '--pin', fixture.controlPlane.pin!], out);
    expect(code).toBe(2);
    expect(out.err()).toContain('--pin: give one pin for every proxy or one per --proxy');
  });
});

function manualDeferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
