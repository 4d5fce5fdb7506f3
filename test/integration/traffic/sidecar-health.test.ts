/**
 * Issue 13, item 6: the sidecar health-checks its target. A real `inteli-agent` (in-process) registers a
 * server with a TCP check every 100 ms; the server is killed: within an interval the backend is
 * `unhealthy` in the registry (what `backends list` shows) and in the status snapshot, the proxy answers
 * 403 NO_TARGET instead of 502s, and the agent logs the transition; the server comes back on the same
 * port: the backend is routed again, and that transition is logged too.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Backend } from '../../../src/proxy/registry/backend.js';
import { parsePublicJwk } from '../../../src/shared/identity/jwk.js';
import { createLogger } from '../../../src/shared/logger.js';
import { writeKeyPair } from '../../../src/shared/identity/write-key-pair.js';
import { runAgentCli } from '../../../src/webserver-agent/run-agent-cli.js';
import { startAgentProxy, type AgentProxy } from '../../helpers/agent-proxy.js';
import { send } from '../../helpers/data-plane-client.js';

let fixture: AgentProxy;
let dir: string;
let keyFile: string;

beforeAll(async () => {
  fixture = await startAgentProxy();
  dir = await mkdtemp(path.join(tmpdir(), 'inteli-health-'));
  const written = await writeKeyPair('SIDEHEALTH', dir);
  keyFile = written.privatePath;
  const publicKey = parsePublicJwk(JSON.parse(await readFile(written.publicPath, 'utf8')));
  await fixture.trustStore.add({ id: 'SIDEHEALTH', publicKey, scope: { rules: ['/legacy'], hosts: ['127.0.0.1'] } });
});

afterAll(async () => {
  await fixture?.stop();
  await rm(dir, { recursive: true, force: true });
});

function listen(server: http.Server, port = 0): Promise<number> {
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** Resolves with the backend record once the registry reports it in `state`. */
function stateReached(state: Backend['state']): Promise<Backend> {
  return new Promise((resolve) => {
    const onUpdated = (backend: Backend): void => {
      if (backend.agentId !== 'SIDEHEALTH' || backend.state !== state) return;
      fixture.proxy.registry.off('updated', onUpdated);
      resolve(backend);
    };
    fixture.proxy.registry.on('updated', onUpdated);
  });
}

describe('inteli-agent health check', () => {
  it('drains its backend while the target is down and routes it again when it is back, logging both', async () => {
    const app = (): http.Server => http.createServer((_req, res) => res.end('legacy app'));
    let server = app();
    const port = await listen(server);
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    });
    const signals = new EventEmitter();
    let registered!: () => void;
    const whenRegistered = new Promise<void>((resolve) => (registered = resolve));
    const argv = [
      '--proxy', fixture.proxy.controlPlane!.url, '--id', 'SIDEHEALTH', '--key', keyFile, '--target', `127.0.0.1:${port}`,
      '--rule', '/legacy', '--pin', fixture.proxy.pin!, '--health-interval', '100', '--health-timeout', '100',
    ];
    const io = { stdout: { write: () => undefined }, stderr: { write: () => undefined } };
    const exit = runAgentCli(argv, io, { signals, logger, onRegistered: () => registered() });
    try {
      await whenRegistered;
      expect(await send(fixture.port, '/legacy')).toMatchObject({ status: 200, body: 'legacy app' });

      const unhealthy = stateReached('unhealthy');
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      const down = await unhealthy;
      expect(fixture.proxy.registry.get(down.id)?.state).toBe('unhealthy');
      expect(fixture.proxy.snapshot().routes.find((route) => route.rule === '/legacy')?.upstreams[0]?.state).toBe('unhealthy');
      expect(await send(fixture.port, '/legacy')).toMatchObject({ status: 403, body: expect.stringContaining('NO_TARGET') });
      expect(lines.some((line) => line.includes('target unhealthy'))).toBe(true);

      const ready = stateReached('ready');
      server = app();
      await listen(server, port);
      await ready;
      expect(await send(fixture.port, '/legacy')).toMatchObject({ status: 200, body: 'legacy app' });
      expect(lines.some((line) => line.includes('target healthy again'))).toBe(true);
    } finally {
      signals.emit('SIGTERM', 'SIGTERM');
      expect(await exit).toBe(0);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('the embedded agent calls its healthCheck function: unhealthy stops new requests, healthy routes again', async () => {
    let healthy = true;
    const web = await fixture.agent('EMBEDHEALTH', '/embedded', (_req, res) => res.end('embedded app'), {
      healthCheck: { check: () => healthy, intervalMs: 50 },
    });
    const verdicts: boolean[] = [];
    web.on('health', (info) => verdicts.push(info.healthy));
    await web.start();
    expect(await send(fixture.port, '/embedded')).toMatchObject({ status: 200 });
    const whenState = (state: Backend['state']): Promise<void> =>
      new Promise((resolve) => {
        const onUpdated = (backend: Backend): void => {
          if (backend.agentId !== 'EMBEDHEALTH' || backend.state !== state) return;
          fixture.proxy.registry.off('updated', onUpdated);
          resolve();
        };
        fixture.proxy.registry.on('updated', onUpdated);
      });
    const down = whenState('unhealthy');
    healthy = false;
    await down;
    expect(await send(fixture.port, '/embedded')).toMatchObject({ status: 403 });
    const up = whenState('ready');
    healthy = true;
    await up;
    expect(await send(fixture.port, '/embedded')).toMatchObject({ status: 200, body: 'embedded app' });
    expect(verdicts).toEqual([false, true]);
  });
});
