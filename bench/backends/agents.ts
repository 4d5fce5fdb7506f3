/**
 * The backends' side of agent registration: one real `ProxyWebServer` per backend server, dialling the
 * control plane with the key the proxy child generated and trusted for it.
 */
import type { Server } from 'node:http';
import { ProxyWebServer } from '../../src/webserver-agent/proxy-web-server.js';
import type { AgentCredentials } from '../contenders/register-backends.js';

/** How long an agent's stop may wait for the proxy's `drained` (the proxy may already be gone). */
const DRAIN_TIMEOUT_MS = 1_000;

/** Starts one agent per server and resolves once every registration is acknowledged. */
export async function startAgents(servers: readonly Server[], credentials: AgentCredentials): Promise<ProxyWebServer[]> {
  const agents = credentials.agents.map(
    ({ id, privateJwk }, index) =>
      new ProxyWebServer({
        proxyUrl: credentials.url,
        agentId: id,
        key: privateJwk,
        server: servers[index]!,
        rules: ['/'],
        // Plain ws on loopback, matching the bench's control plane (see register-backends.ts).
        insecure: true,
        drainTimeoutMs: DRAIN_TIMEOUT_MS,
        closeServer: false,
      }),
  );
  await Promise.all(agents.map((agent) => agent.start()));
  return agents;
}
