/**
 * `npm run demo:fleet`: two proxies sharing one trust on Redis, in one process, on free loopback ports.
 *
 * 1. A redis-server starts (its own, in a temporary directory), then proxies A and B, both pointed at it
 *    (`trustStore: { redis: { url } }`, what `PROXY_REDIS_URL` does for `npm start`); they see each other.
 * 2. The sysadmin, connected to proxy A only, trusts two web servers' keys: both proxies trust them.
 * 3. Each web server runs one agent listing both proxies (one session per proxy), and requests through
 *    either proxy are round-robined across both web servers.
 * 4. The sysadmin, now through proxy B, revokes WEB001: its sessions on both proxies close (4003) at once
 *    and every request, through either proxy, goes to WEB002.
 *
 * Nothing is written outside the temporary directory, and everything is stopped at the end.
 */
import http from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { ProxyServer, ProxySysAdmin, ProxyWebServer, generateDevCertificate, writeKeyPair } from '../src/index.js';
import { parsePublicJwk } from '../src/shared/identity/jwk.js';
import { startLocalRedis } from './local-redis.js';

const RULE = '/hello';

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

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

async function show(name: string, port: number, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    const { status, body } = await get(port, RULE);
    say(`   via ${name}: GET ${RULE} -> ${status} ${body.trim()}`);
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'inteli-demo-fleet-'));
  const keys = path.join(dir, 'keys');
  const cleanup: Array<() => Promise<unknown>> = [() => rm(dir, { recursive: true, force: true })];
  try {
    say('1. a redis-server and two proxies sharing it');
    const redis = await startLocalRedis(dir);
    cleanup.unshift(() => redis.stop());
    say(`   redis ${redis.url} (appendonly yes)`);
    const tls = await generateDevCertificate();
    const proxies = new Map<string, ProxyServer>();
    for (const name of ['proxy-a', 'proxy-b']) {
      const proxy = new ProxyServer({
        host: '127.0.0.1',
        port: 0,
        tls,
        tlsPort: 0,
        control: { host: '127.0.0.1', port: 0 },
        trustStore: { redis: { url: redis.url, prefix: 'demo:', nodeId: name, advertiseHost: '127.0.0.1' } },
      });
      proxy.on('node_added', (node) => say(`   [${name}] node_added: ${node.id}`));
      proxies.set(name, proxy);
      cleanup.unshift(() => proxy.stop());
    }
    const [a, b] = [proxies.get('proxy-a')!, proxies.get('proxy-b')!];
    // proxy-a learns of proxy-b at its next membership refresh (every third of the 5 s TTL).
    const aSeesB = new Promise<void>((resolve) => a.once('node_added', () => resolve()));
    for (const [name, proxy] of proxies) {
      const addresses = await proxy.start();
      say(`   ${name}: http://127.0.0.1:${addresses.http?.port ?? 0}  control wss://127.0.0.1:${addresses.control?.port ?? 0}`);
    }
    await aSeesB;
    const portOf = (proxy: ProxyServer): number => (proxy.addresses.http as AddressInfo).port;
    const urlOf = (proxy: ProxyServer): string => proxy.controlPlane?.url ?? '';

    say('\n2. the sysadmin, connected to proxy-a, trusts two web servers (scope /hello)');
    // First start of a fleet: an admin key in the shared store (what `npm start` bootstraps when it is empty).
    const adminPair = await writeKeyPair('admin', keys);
    await a.trustStore!.add({ id: 'admin', publicKey: parsePublicJwk(JSON.parse(await readFile(adminPair.publicPath, 'utf8')) as unknown), role: 'admin' });
    const viaA = new ProxySysAdmin({ proxyUrl: urlOf(a), adminId: 'admin', key: adminPair.privatePath, pin: a.pin });
    cleanup.unshift(() => viaA.stop());
    await viaA.start();
    const pairs = new Map<string, { privatePath: string; publicPath: string }>();
    for (const id of ['WEB001', 'WEB002']) {
      const pair = await writeKeyPair(id, keys);
      pairs.set(id, pair);
      await viaA.addPublicKey(id, pair.publicPath, { rules: [RULE], hosts: ['127.0.0.1'] });
      say(`   trusted ${id} through proxy-a`);
    }
    const fleet = await viaA.listFleet();
    say(`   fleet list: ${fleet.nodes.map((node) => `${node.id}${node.self ? ' (answering)' : ''}`).join(', ')}`);

    say('\n3. each web server registers with both proxies (one agent, one session per proxy)');
    const agents = new Map<string, ProxyWebServer>();
    const nameOf = new Map<string, string>([...proxies].map(([name, proxy]) => [urlOf(proxy), name]));
    for (const [id, pair] of pairs) {
      // The trust reaches proxy-b through Redis a few milliseconds after proxy-a acknowledged it.
      while (b.trustStore?.get(id) === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
      const server = http.createServer((_request, response) => response.end(`hello from ${id}\n`));
      const agent = new ProxyWebServer({
        proxyUrl: [{ url: urlOf(a), pin: a.pin }, { url: urlOf(b), pin: b.pin }],
        agentId: id,
        key: pair.privatePath,
        server,
        port: 0,
        rules: [RULE],
        drainTimeoutMs: 1000,
      });
      agent.on('disconnected', ({ code, proxyUrl }) => say(`   [${id} on ${nameOf.get(proxyUrl) ?? proxyUrl}] session closed by the proxy (${code})`));
      agent.on('error', () => undefined);
      await agent.start();
      agents.set(id, agent);
      cleanup.unshift(() => agent.stop());
      say(`   ${id} registered with ${agent.proxies.map((link) => nameOf.get(link.proxyUrl) ?? link.proxyUrl).join(' and ')}`);
    }
    await show('proxy-a', portOf(a), 2);
    await show('proxy-b', portOf(b), 2);

    say('\n4. the sysadmin revokes WEB001 through proxy-b: WEB001 is cut off on both proxies');
    const viaB = new ProxySysAdmin({ proxyUrl: urlOf(b), adminId: 'admin', key: adminPair.privatePath, pin: b.pin });
    cleanup.unshift(() => viaB.stop());
    await viaB.start();
    const web001 = agents.get('WEB001');
    const cutOff = new Promise<number[]>((resolve) => {
      const codes: number[] = [];
      web001?.on('disconnected', ({ code }) => {
        codes.push(code);
        if (codes.length === 2) resolve(codes);
      });
    });
    const started = performance.now();
    const removed = await viaB.removePublicKey('WEB001');
    const codes = await cutOff;
    say(`   removed through proxy-b (closed ${removed.closedSessions} session there); closes on both proxies: ${codes.join(', ')} within ${Math.round(performance.now() - started)} ms`);
    await show('proxy-a', portOf(a), 2);
    await show('proxy-b', portOf(b), 2);
  } finally {
    for (const step of cleanup) await step().catch(() => undefined);
  }
  say('\ndone: proxies, agents and redis-server stopped, the temporary directory removed');
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
