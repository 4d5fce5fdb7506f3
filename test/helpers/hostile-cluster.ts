/**
 * A whole proxy (data plane + TLS control plane) for the hostile suite, on 127.0.0.1 port 0 with an
 * in-memory trust store, plus trusted keys, tokens and real `ProxyWebServer` agents serving JSON
 * `{ name, url }`. Everything started here is stopped by `close()`.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { ProxyServer } from '../../src/proxy/proxy-server.js';
import type { ProxyServerOptions } from '../../src/proxy/proxy-options.js';
import { TrustStore } from '../../src/shared/trust/index.js';
import { generateKeyPair } from '../../src/shared/identity/key-pair.js';
import { signToken } from '../../src/shared/identity/sign-token.js';
import type { KeyRole } from '../../src/shared/protocol.js';
import { ProxyWebServer, type ProxyWebServerOptions } from '../../src/webserver-agent/proxy-web-server.js';
import { testCertificate, type TestKey } from './control-plane-fixture.js';
import { LOAD_ID_HEADER } from './hostile-load.js';

/** A running proxy with helpers. */
export interface HostileCluster {
  proxy: ProxyServer;
  /** Data-plane HTTP port. */
  port: number;
  /** Control-plane port. */
  controlPort: number;
  readonly url: string;
  readonly trustStore: TrustStore;
  readonly cert: { cert: string; key: string };
  /** Requests served per agent name (the agent id unless `meta.name` is given). */
  readonly hits: Map<string, number>;
  /**
   * Ids ({@link LOAD_ID_HEADER}) of the load requests the agents' servers received: requests the proxy
   * accepted and forwarded, each of which the client must see answered.
   */
  readonly loadIds: Set<string>;
  /** Emits `request` each time an agent's server receives a request (before it answers). */
  readonly backendEvents: EventEmitter;
  addKey(id: string, rules?: string[], role?: KeyRole): Promise<TestKey>;
  token(key: TestKey, ttlSeconds?: number): Promise<string>;
  /**
   * Starts an agent serving `{ name, url }` for `rules` after `delayMs` (default 0); it is stopped by
   * `close()` unless stopped before.
   */
  startAgent(key: TestKey, rules: string[], options?: Partial<ProxyWebServerOptions>, delayMs?: number): Promise<ProxyWebServer>;
  /** Stops the proxy and starts a new one on the same ports and trust store (agents keep running). */
  restartProxy(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the cluster; `options` override the proxy's (control options are merged). */
export async function startCluster(options: ProxyServerOptions = {}): Promise<HostileCluster> {
  const cert = await testCertificate();
  const trustStore = TrustStore.inMemory();
  const agents = new Set<ProxyWebServer>();
  const hits = new Map<string, number>();
  const loadIds = new Set<string>();
  const backendEvents = new EventEmitter();
  const controlOptions = options.control === false ? {} : (options.control ?? {});
  const make = (port: number, controlPort: number): ProxyServer =>
    new ProxyServer({
      host: '127.0.0.1',
      port,
      shutdownTimeoutMs: 3000,
      ...options,
      control: { host: '127.0.0.1', port: controlPort, tls: cert, heartbeatIntervalMs: 1000, closeTimeoutMs: 300, ...controlOptions },
      trustStore,
    });
  const proxy = make(0, 0);
  const addresses = await proxy.start();
  const cluster: HostileCluster = {
    proxy,
    port: addresses.http?.port ?? 0,
    controlPort: addresses.control?.port ?? 0,
    get url() {
      return `wss://127.0.0.1:${cluster.controlPort}`;
    },
    trustStore,
    cert,
    hits,
    loadIds,
    backendEvents,
    async addKey(id, rules = [], role = 'agent') {
      const { privateJwk, publicJwk } = await generateKeyPair(id);
      await trustStore.add({ id, publicKey: publicJwk, role, scope: { rules, hosts: ['127.0.0.1'] } });
      return { id, privateJwk };
    },
    token: (key, ttlSeconds = 60) => signToken(key.privateJwk, { subject: key.id, audience: cluster.proxy.controlPlane?.audience ?? 'inteli-proxy', ttlSeconds }),
    async startAgent(key, rules, agentOptions = {}, delayMs = 0) {
      const name = agentOptions.meta?.name ?? key.id;
      const server = http.createServer((req, res) => {
        const loadId = req.headers[LOAD_ID_HEADER];
        if (typeof loadId === 'string') loadIds.add(loadId);
        backendEvents.emit('request');
        req.resume();
        req.on('end', () => {
          hits.set(name, (hits.get(name) ?? 0) + 1);
          const answer = (): void => {
            res.setHeader('content-type', 'application/json');
            res.end(JSON.stringify({ name, url: req.url }));
          };
          if (delayMs > 0) setTimeout(answer, delayMs);
          else answer();
        });
      });
      const agent = new ProxyWebServer({
        proxyUrl: cluster.url,
        agentId: key.id,
        key: key.privateJwk,
        server,
        rules,
        ca: cert.cert,
        reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
        closeGraceMs: 1000,
        drainTimeoutMs: 3000,
        ...agentOptions,
      });
      agent.on('error', () => undefined);
      agents.add(agent);
      await agent.start();
      return agent;
    },
    async restartProxy() {
      await cluster.proxy.stop();
      cluster.proxy = make(cluster.port, cluster.controlPort);
      await cluster.proxy.start();
    },
    async close() {
      await Promise.all([...agents].map((agent) => agent.stop().catch(() => undefined)));
      await cluster.proxy.stop();
    },
  };
  return cluster;
}

