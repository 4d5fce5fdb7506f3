/**
 * The original inteli-reverse-proxy scenario, end to end with real parts: one `ProxyServer` (data plane
 * and WSS control plane) and two `ProxyWebServer` agents.
 * Plus the drain guarantee: a request in flight completes, no new request reaches the draining target.
 */
import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import type http from 'node:http';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';
import type { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import { startAgentProxy, type AgentProxy } from '../../helpers/agent-proxy.js';
import { send } from '../../helpers/data-plane-client.js';
import { nextEvent } from '../../helpers/control-plane-fixture.js';

let proxy: ProxyServer;
let proxyPort: number;
let fixture: AgentProxy;

beforeEach(async () => {
  fixture = await startAgentProxy();
  ({ proxy, port: proxyPort } = fixture);
});

afterEach(async () => {
  await fixture.stop();
});

const webServer = (id: string, rule: string, handler: http.RequestListener): Promise<ProxyWebServer> => fixture.agent(id, rule, handler);

const hello = (name: string): http.RequestListener => (_req, res) => res.end(name);

describe('original scenario (WEB001 on /, WEB002 on /test)', () => {
  it('routes by longest prefix while registered, and answers 403 once each web server stops', async () => {
    const web001 = await webServer('WEB001', '/', hello('WEB001'));
    const web002 = await webServer('WEB002', '/test', hello('WEB002'));
    await web001.start();
    await web002.start();

    expect((await send(proxyPort, '/')).body).toBe('WEB001');
    expect((await send(proxyPort, '/foo')).body).toBe('WEB001');
    expect((await send(proxyPort, '/test')).body).toBe('WEB002');
    expect((await send(proxyPort, '/test/x')).body).toBe('WEB002');
    expect((await send(proxyPort, '/testing')).body).toBe('WEB001');

    await web001.stop();
    expect((await send(proxyPort, '/')).status).toBe(403);
    expect((await send(proxyPort, '/foo')).status).toBe(403);
    expect((await send(proxyPort, '/test/x')).body).toBe('WEB002');

    await web002.stop();
    expect((await send(proxyPort, '/')).status).toBe(403);
    expect((await send(proxyPort, '/test')).status).toBe(403);
  });
});

describe('drain', () => {
  it('lets a request in flight complete with 200 while no new request reaches the draining target', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => undefined;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    let requests = 0;
    const web = await webServer('WEB003', '/slow', (_req, res) => {
      requests += 1;
      entered();
      void gate.then(() => res.end('finished'));
    });
    await web.start();

    const inFlight = send(proxyPort, '/slow');
    await inHandler;
    const draining = nextEvent(proxy.registry, 'updated');
    const stopped = web.stop();
    await draining;
    const refused = await send(proxyPort, '/slow/new');
    expect(refused.status).toBe(403);
    expect(requests).toBe(1);

    const removed = nextEvent<[unknown, string]>(proxy, 'backend_removed');
    release();
    await expect(inFlight).resolves.toMatchObject({ status: 200, body: 'finished' });
    expect((await removed)[1]).toBe('drained');
    await stopped;
    expect(web.state).toBe('stopped');
  });
});
