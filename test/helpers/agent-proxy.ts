/**
 * A `ProxyServer` that real `ProxyWebServer` agents join: an in-memory trust store, the WSS control
 * plane on 127.0.0.1 port 0 with a test certificate, and a factory that trusts an agent's key (scoped to
 * its rule) and builds the agent pinned to this proxy. `stop()` stops every agent made here, then the proxy.
 */
import http from 'node:http';
import type { AdminOptions } from '../../src/proxy/admin/admin-options.js';
import type { DataPlaneOptions } from '../../src/proxy/data-plane/data-plane-options.js';
import { TrustStore } from '../../src/shared/trust/index.js';
import type { ProxyServer } from '../../src/proxy/proxy-server.js';
import { generateKeyPair } from '../../src/shared/identity/key-pair.js';
import { ProxyWebServer, type ProxyWebServerOptions } from '../../src/webserver-agent/proxy-web-server.js';
import { testCertificate } from './control-plane-fixture.js';
import { startProxy } from './data-plane-client.js';

/** A started proxy with a control plane, and the agents made for it. */
export interface AgentProxy {
  readonly proxy: ProxyServer;
  /** The proxy's HTTP port. */
  readonly port: number;
  readonly trustStore: TrustStore;
  /**
   * Trusts a new key `id` for `rule` and builds (does not start) an agent serving `handler` on `rule`;
   * `extra` overrides the agent's options.
   */
  agent(id: string, rule: string, handler: http.RequestListener, extra?: Partial<ProxyWebServerOptions>): Promise<ProxyWebServer>;
  /** Stops the agents made here, then the proxy. */
  stop(): Promise<void>;
}

/**
 * Starts the proxy; `admin` adds the admin listener (on 127.0.0.1 port 0 unless it says otherwise), `proxy`
 * adds data-plane options (affinity, timeouts, ...).
 */
export async function startAgentProxy(options: { admin?: AdminOptions; proxy?: DataPlaneOptions } = {}): Promise<AgentProxy> {
  const trustStore = TrustStore.inMemory();
  const { proxy, port } = await startProxy({
    ...options.proxy,
    trustStore,
    control: { host: '127.0.0.1', port: 0, tls: await testCertificate(), heartbeatIntervalMs: 1000 },
    ...(options.admin === undefined ? {} : { admin: { host: '127.0.0.1', port: 0, ...options.admin } }),
  });
  const agents: ProxyWebServer[] = [];
  return {
    proxy,
    port,
    trustStore,
    async agent(id, rule, handler, extra = {}) {
      const { privateJwk, publicJwk } = await generateKeyPair(id);
      // Agents here run on loopback, which needs a grant (issue 14).
      await trustStore.add({ id, publicKey: publicJwk, scope: { rules: [rule], hosts: ['127.0.0.1'] } });
      const web = new ProxyWebServer({
        proxyUrl: proxy.controlPlane!.url,
        agentId: id,
        key: privateJwk,
        server: http.createServer(handler),
        rules: [rule],
        pin: proxy.pin,
        drainTimeoutMs: 5000,
        ...extra,
      });
      agents.push(web);
      return web;
    },
    async stop() {
      await Promise.all(agents.splice(0).map((agent) => agent.stop()));
      await proxy.stop();
    },
  };
}
