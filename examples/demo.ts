/**
 * `npm run demo`: the whole flow in one process, on free loopback ports, in a temporary directory.
 *
 * 1. A proxy starts (HTTP data plane + WSS control plane, a development certificate made in memory).
 * 2. The sysadmin bootstraps an admin key offline, connects with `ProxySysAdmin` and uploads the public
 *    keys of two web servers, each scoped to the rule `/hello`.
 * 3. Two web servers embed `ProxyWebServer`: each dials the control plane, proves its identity and
 *    registers; `start()` resolves once the proxy has acknowledged.
 * 4. Requests to the proxy alternate between them (round-robin).
 * 5. One web server stops (drains first): every request goes to the other. The second stops: 403.
 *
 * Nothing is written outside the temporary directory, and everything is closed at the end.
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ProxyServer,
  ProxySysAdmin,
  ProxyWebServer,
  generateDevCertificate,
  initAdmin,
  writeKeyPair,
} from '../src/index.js';

const RULE = '/hello';

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** One GET through the proxy, returning status and body. */
function get(port: number, pathname: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: pathname, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
  });
}

let sent = 0;

async function show(port: number, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    sent += 1;
    const { status, body } = await get(port, `${RULE}?n=${sent}`);
    say(`   GET ${RULE}?n=${sent} -> ${status} ${body.trim()}`);
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'inteli-demo-'));
  const certstore = path.join(dir, 'certstore');
  const keys = path.join(dir, 'keys');
  const cleanup: Array<() => Promise<unknown>> = [() => rm(dir, { recursive: true, force: true })];
  try {
    say('1. starting the proxy');
    const admin = await initAdmin({ certstore, out: keys });
    const proxy = new ProxyServer({
      host: '127.0.0.1',
      port: 0,
      tls: await generateDevCertificate(),
      tlsPort: 0,
      certstore,
      control: { host: '127.0.0.1', port: 0 },
    });
    cleanup.unshift(() => proxy.stop());
    const addresses = await proxy.start();
    const proxyPort = addresses.http?.port ?? 0;
    const proxyUrl = `wss://127.0.0.1:${addresses.control?.port ?? 0}`;
    say(`   http://127.0.0.1:${proxyPort}  control ${proxyUrl}  pin ${proxy.pin ?? ''}`);
    proxy.on('backend_added', (backend) => say(`   [proxy] backend added: ${backend.agentId} on ${backend.rules.map((r) => r.path).join(', ')}`));
    proxy.on('backend_removed', (backend, reason) => say(`   [proxy] backend removed: ${backend.agentId} (${reason})`));

    say(`\n2. the sysadmin uploads the web servers' public keys (scope: ${RULE})`);
    const sysadmin = new ProxySysAdmin({ proxyUrl, adminId: admin.id, key: admin.privatePath, pin: proxy.pin });
    cleanup.unshift(() => sysadmin.stop());
    await sysadmin.start();
    const servers: ProxyWebServer[] = [];
    for (const id of ['WEB001', 'WEB002']) {
      const pair = await writeKeyPair(id, keys);
      // The web servers run on the proxy's own machine: a loopback agent names only the targets its key
      // grants (a real deployment grants the one port, `127.0.0.1:8080`; here the port is picked at start).
      const trusted = await sysadmin.addPublicKey(id, pair.publicPath, { rules: [RULE], hosts: ['127.0.0.1'] });
      say(`   trusted ${id} (fingerprint ${trusted.fingerprint})`);
      const server = http.createServer((_request, response) => response.end(`hello from ${id}\n`));
      const agent = new ProxyWebServer({ proxyUrl, agentId: id, key: pair.privatePath, server, port: 0, rules: [RULE], pin: proxy.pin });
      servers.push(agent);
      cleanup.unshift(() => agent.stop());
    }

    say('\n3. the web servers start and register themselves');
    for (const agent of servers) await agent.start();
    const backends = await sysadmin.listBackends();
    say(`   live backends: ${backends.map((backend) => `${backend.agentId} (${backend.state})`).join(', ')}`);

    say('\n4. requests are round-robined across the live targets');
    await show(proxyPort, 4);

    say('\n5. WEB001 stops (drains first): the other takes every request');
    await servers[0]!.stop();
    await show(proxyPort, 2);

    say('\n6. WEB002 stops: no target left, the client gets 403');
    await servers[1]!.stop();
    await show(proxyPort, 1);
  } finally {
    for (const step of cleanup) await step().catch(() => undefined);
  }
  say('\ndone: everything stopped and the temporary directory removed');
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
