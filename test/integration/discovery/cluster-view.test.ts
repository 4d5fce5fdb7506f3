/**
 * The composites the hosts own (ProxyDiscovery, AgentDiscovery), over loopback multicast (TTL 0): proxies announcing and
 * seeing each other (node_added / node_removed), an agent following proxies as they come and go, by
 * beacons or by probes. Every wait is on an event.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { AgentDiscovery } from '../../../src/shared/discovery/agent-discovery.js';
import type { DiscoveredProxy } from '../../../src/shared/discovery/peer-tracker.js';
import { ProxyDiscovery } from '../../../src/shared/discovery/proxy-discovery.js';
import { announcementFor, freeUdpPort, loopbackOptions, newSecret } from '../../helpers/discovery-loopback.js';

const stoppers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stoppers.splice(0).map((stop) => stop()));
});

function nextEvent(emitter: ProxyDiscovery | AgentDiscovery, event: string, proxyId: string): Promise<DiscoveredProxy> {
  return new Promise((resolve) => {
    const listener = (proxy: DiscoveredProxy): void => {
      if (proxy.announcement.proxyId !== proxyId) return;
      emitter.off(event, listener);
      resolve(proxy);
    };
    emitter.on(event, listener);
  });
}

/** Options of one test cluster: a 1 s beacon lifetime, long enough that a loaded machine drops no live proxy. */
async function cluster(overrides: Parameters<typeof loopbackOptions>[1] = {}): Promise<Parameters<typeof loopbackOptions>[1] & { secret: string }> {
  return { ...loopbackOptions(newSecret(), { intervalMs: 200, lifetimeIntervals: 5, port: await freeUdpPort(), ...overrides }), secret: newSecret() };
}

function makeProxy(options: Awaited<ReturnType<typeof cluster>>, proxyId: string, port: number): ProxyDiscovery {
  const proxy = new ProxyDiscovery({ ...options, answerProbes: false }, announcementFor(proxyId, port));
  stoppers.push(() => proxy.stop());
  return proxy;
}

async function startProxy(options: Awaited<ReturnType<typeof cluster>>, proxyId: string, port: number): Promise<ProxyDiscovery> {
  const proxy = makeProxy(options, proxyId, port);
  await proxy.start();
  return proxy;
}

async function startAgent(options: ConstructorParameters<typeof AgentDiscovery>[0]): Promise<AgentDiscovery> {
  const agent = new AgentDiscovery(options);
  stoppers.push(() => agent.stop());
  await agent.start();
  return agent;
}

describe('proxies and an agent on one secret', () => {
  it('proxies see each other; the agent follows a proxy that joins later and one that stops', async () => {
    const options = await cluster();
    const agent = await startAgent(options);
    const agentSeesA = nextEvent(agent, 'proxy_up', 'proxy-a');
    const agentSeesB = nextEvent(agent, 'proxy_up', 'proxy-b');
    const a = await startProxy(options, 'proxy-a', 4001);
    const aSeesB = nextEvent(a, 'node_added', 'proxy-b');
    const b = makeProxy(options, 'proxy-b', 4002);
    const bSeesA = nextEvent(b, 'node_added', 'proxy-a');
    await b.start();
    expect((await aSeesB).announcement.controlUrls).toEqual(['wss://127.0.0.1:4002/']);
    await bSeesA;
    await agentSeesA;
    await agentSeesB;
    expect(a.peers().map((peer) => peer.announcement.proxyId)).toEqual(['proxy-b']);
    expect(b.peers().map((peer) => peer.announcement.proxyId)).toEqual(['proxy-a']);

    const agentSeesC = nextEvent(agent, 'proxy_up', 'proxy-c');
    await startProxy(options, 'proxy-c', 4003);
    expect((await agentSeesC).announcement.controlUrls).toEqual(['wss://127.0.0.1:4003/']);

    const agentLosesB = nextEvent(agent, 'proxy_down', 'proxy-b');
    const aLosesB = nextEvent(a, 'node_removed', 'proxy-b');
    await b.stop();
    await agentLosesB;
    await aLosesB;
    expect(agent.proxies().map((proxy) => proxy.announcement.proxyId).sort()).toEqual(['proxy-a', 'proxy-c']);
    expect(a.stats().peers?.refused.unknown_key).toBe(0);
  });

  it('an agent on another secret sees none of them and counts their beacons as unknown_key', async () => {
    const options = await cluster();
    const outsider = await startAgent({ ...options, secret: newSecret() });
    const member = await startAgent(options);
    const memberSees = nextEvent(member, 'proxy_up', 'proxy-a');
    await startProxy(options, 'proxy-a', 4001);
    await memberSees;
    // The outsider shares the group and port, so it received the beacon the member accepted.
    expect(outsider.proxies()).toEqual([]);
    expect(outsider.stats().beacons?.accepted).toBe(0);
  });

  it('an agent that only probes finds a proxy that answers probes', async () => {
    const options = await cluster({ probePort: 0 });
    const proxy = new ProxyDiscovery({ ...options, peers: false }, announcementFor('proxy-p', 4009));
    stoppers.push(() => proxy.stop());
    await proxy.start();
    const agent = new AgentDiscovery({ ...options, beacons: false, probe: '127.0.0.1/32', probePort: proxy.probePort });
    stoppers.push(() => agent.stop());
    const found = await agent.probeNow();
    expect(found.map((p) => [p.announcement.proxyId, p.via])).toEqual([['proxy-p', 'probe']]);
    expect(agent.proxies().map((p) => p.announcement.proxyId)).toEqual(['proxy-p']);
  });

  it('refuses an agent with neither beacons nor probes', () => {
    expect(() => new AgentDiscovery({ secret: newSecret(), beacons: false })).toThrow('probe');
  });
});
