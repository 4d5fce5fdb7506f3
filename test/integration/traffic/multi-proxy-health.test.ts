/**
 * Issue 13 item 6 with issue 11's several proxies: an agent registered with two proxies reports its
 * target's health to EACH of them. The target dies: the backend turns `unhealthy` on both proxies (both
 * answer 403 NO_TARGET); it comes back: `ready` on both. A proxy that the agent joins while its target
 * is unhealthy learns the verdict before the registration is routed. An admin drain on one proxy is
 * reported naming that proxy and leaves the other routing.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import http from 'node:http';
import type { Backend } from '../../../src/proxy/registry/backend.js';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import type { Ed25519PrivateJwk } from '../../../src/shared/identity/jwk.js';
import { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import { startAgentProxy, type AgentProxy } from '../../helpers/agent-proxy.js';
import { send } from '../../helpers/data-plane-client.js';

let proxyA: AgentProxy;
let proxyB: AgentProxy;
let key: Ed25519PrivateJwk;
const agents: ProxyWebServer[] = [];

beforeAll(async () => {
  [proxyA, proxyB] = await Promise.all([startAgentProxy(), startAgentProxy()]);
  const pair = await generateKeyPair('MULTIHEALTH');
  key = pair.privateJwk;
  for (const fixture of [proxyA, proxyB]) await fixture.trustStore.add({ id: 'MULTIHEALTH', publicKey: pair.publicJwk, scope: { rules: ['/multi'], hosts: ['127.0.0.1'] } });
});

afterAll(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.stop()));
  await Promise.all([proxyA?.stop(), proxyB?.stop()]);
});

function endpoint(fixture: AgentProxy): { url: string; pin: string } {
  return { url: fixture.proxy.controlPlane!.url, pin: fixture.proxy.pin! };
}

/** Resolves once this proxy's registry reports the agent's backend in `state`. */
function stateReached(fixture: AgentProxy, state: Backend['state']): Promise<void> {
  return new Promise((resolve) => {
    const onUpdated = (backend: Backend): void => {
      if (backend.agentId !== 'MULTIHEALTH' || backend.state !== state) return;
      fixture.proxy.registry.off('updated', onUpdated);
      resolve();
    };
    fixture.proxy.registry.on('updated', onUpdated);
  });
}

/** The state of the agent's newest registration on this proxy (an earlier test's may still be closing). */
function backendState(fixture: AgentProxy): Backend['state'] | undefined {
  return fixture.proxy.registry.list().filter((backend) => backend.agentId === 'MULTIHEALTH').at(-1)?.state;
}

function agent(proxyUrl: Array<{ url: string; pin: string }>, isHealthy: () => boolean): ProxyWebServer {
  const web = new ProxyWebServer({
    proxyUrl,
    agentId: 'MULTIHEALTH',
    key,
    server: http.createServer((_req, res) => res.end('multi app')),
    rules: ['/multi'],
    drainTimeoutMs: 5000,
    healthCheck: { check: isHealthy, intervalMs: 50 },
  });
  agents.push(web);
  return web;
}

describe('health check with several proxies', () => {
  it('marks the backend unhealthy on both proxies when the target dies, and ready on both when it is back', async () => {
    let healthy = true;
    const web = agent([endpoint(proxyA), endpoint(proxyB)], () => healthy);
    try {
      await web.start();
      for (const fixture of [proxyA, proxyB]) expect(await send(fixture.port, '/multi')).toMatchObject({ status: 200, body: 'multi app' });

      const down = Promise.all([stateReached(proxyA, 'unhealthy'), stateReached(proxyB, 'unhealthy')]);
      healthy = false;
      await down;
      for (const fixture of [proxyA, proxyB]) {
        expect(backendState(fixture)).toBe('unhealthy');
        expect(await send(fixture.port, '/multi')).toMatchObject({ status: 403, body: expect.stringContaining('NO_TARGET') });
      }

      const up = Promise.all([stateReached(proxyA, 'ready'), stateReached(proxyB, 'ready')]);
      healthy = true;
      await up;
      for (const fixture of [proxyA, proxyB]) {
        expect(backendState(fixture)).toBe('ready');
        expect(await send(fixture.port, '/multi')).toMatchObject({ status: 200, body: 'multi app' });
      }
    } finally {
      await web.stop();
    }
  });

  it('a proxy added while the target is unhealthy is told before the registration is routed', async () => {
    let healthy = true;
    const web = agent([endpoint(proxyA)], () => healthy);
    try {
      await web.start();
      const down = stateReached(proxyA, 'unhealthy');
      healthy = false;
      await down;

      await web.addProxy(endpoint(proxyB));
      expect(backendState(proxyB)).toBe('unhealthy');
      expect(await send(proxyB.port, '/multi')).toMatchObject({ status: 403, body: expect.stringContaining('NO_TARGET') });

      const up = Promise.all([stateReached(proxyA, 'ready'), stateReached(proxyB, 'ready')]);
      healthy = true;
      await up;
      for (const fixture of [proxyA, proxyB]) expect(await send(fixture.port, '/multi')).toMatchObject({ status: 200, body: 'multi app' });
    } finally {
      await web.stop();
    }
  });

  it('an admin drain names the proxy it came from and leaves the other proxy routing; undrain likewise', async () => {
    const web = agent([endpoint(proxyA), endpoint(proxyB)], () => true);
    try {
      await web.start();
      const drained = once(web, 'admin_drain');
      const ids = proxyA.proxy.controlPlane!.drainAgent('MULTIHEALTH');
      const [drainInfo] = (await drained) as [{ drained: boolean; backendIds: string[]; proxyUrl: string }];
      expect(drainInfo).toMatchObject({ drained: true, backendIds: ids, proxyUrl: proxyA.proxy.controlPlane!.url });
      expect(backendState(proxyA)).toBe('draining');
      expect(backendState(proxyB)).toBe('ready');
      expect(await send(proxyB.port, '/multi')).toMatchObject({ status: 200, body: 'multi app' });

      const undrained = once(web, 'admin_drain');
      proxyA.proxy.controlPlane!.undrainAgent('MULTIHEALTH');
      expect(((await undrained) as [{ drained: boolean; proxyUrl: string }])[0]).toMatchObject({ drained: false, proxyUrl: proxyA.proxy.controlPlane!.url });
      expect(backendState(proxyA)).toBe('ready');
    } finally {
      await web.stop();
    }
  });
});
