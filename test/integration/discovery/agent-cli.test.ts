/**
 * `inteli-agent --discover`, in-process: the sidecar gets only the cluster secret (from its environment),
 * finds a proxy on loopback, registers an existing server with it, and drains on SIGTERM. The CLI has no
 * flags for the group and port, so this test uses the defaults (239.255.42.99:3043) on the loopback
 * interface, the proxy sending with TTL 0; a concurrent run elsewhere on this host has another secret and
 * is refused as unknown_key.
 */
import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { parsePublicJwk } from '../../../src/shared/identity/jwk.js';
import { writeKeyPair } from '../../../src/shared/identity/write-key-pair.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { TrustStore } from '../../../src/shared/trust/index.js';
import { runAgentCli } from '../../../src/webserver-agent/run-agent-cli.js';
import { collector } from '../../helpers/cli-output.js';
import { testCertificate } from '../../helpers/control-plane-fixture.js';
import { send, startProxy } from '../../helpers/data-plane-client.js';
import { LOOPBACK_INTERFACE, newSecret } from '../../helpers/discovery-loopback.js';

const secret = newSecret();
let proxy: ProxyServer;
let server: http.Server;
let dir: string;
let keyFile: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'inteli-discover-'));
  const written = await writeKeyPair('DISCO1', dir);
  keyFile = written.privatePath;
  const trustStore = TrustStore.inMemory();
  await trustStore.add({ id: 'DISCO1', publicKey: parsePublicJwk(JSON.parse(await readFile(written.publicPath, 'utf8'))), scope: { rules: ['/cli'], hosts: [LOOPBACK_INTERFACE] } });
  ({ proxy } = await startProxy({
    trustStore,
    control: { host: LOOPBACK_INTERFACE, port: 0, tls: await testCertificate(), heartbeatIntervalMs: 1000 },
    discovery: { secret, interface: LOOPBACK_INTERFACE, ttl: 0, intervalMs: 200, answerProbes: false, peers: false },
  }));
  server = http.createServer((_req, res) => res.end('legacy app, discovered'));
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK_INTERFACE, resolve));
});

afterAll(async () => {
  await proxy.stop();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('inteli-agent --discover', () => {
  it('registers with a proxy it was never told about, then drains and exits 0 on SIGTERM', async () => {
    const signals = new EventEmitter();
    const io = collector();
    const joined = new Promise<void>((resolve) => proxy.once('backend_added', () => resolve()));
    const { port } = server.address() as { port: number };
    const exit = runAgentCli(
      ['--discover', '--discovery-interface', LOOPBACK_INTERFACE, '--id', 'DISCO1', '--key', keyFile, '--target', `${LOOPBACK_INTERFACE}:${port}`, '--rule', '/cli'],
      io,
      { signals, logger: silentLogger(), env: { INTELI_CLUSTER_SECRET: secret } },
    );
    await joined;
    const response = await send(proxy.addresses.http!.port, '/cli/x');
    expect([response.status, response.body]).toEqual([200, 'legacy app, discovered']);
    const left = new Promise<void>((resolve) => proxy.once('backend_removed', () => resolve()));
    signals.emit('SIGTERM', 'SIGTERM');
    expect(await exit).toBe(0);
    await left;
    expect(io.err()).toBe('');
  });
});
