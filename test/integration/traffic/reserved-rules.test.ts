/**
 * Issue 13, item 5: rules in a key's scope are reserved. With a catch-all `/` served by one agent, a
 * request for `/api/...` while no ready target serves `/api` (never registered yet, drained away, or
 * unhealthy) answers 403 `NO_TARGET` instead of reaching the catch-all's application. Once no trusted
 * key may serve `/api` any more, the catch-all answers again.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ProxyWebServer } from '../../../src/webserver-agent/proxy-web-server.js';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { startAgentProxy, type AgentProxy } from '../../helpers/agent-proxy.js';
import { send } from '../../helpers/data-plane-client.js';
import { nextEvent } from '../../helpers/control-plane-fixture.js';

let fixture: AgentProxy;
let catchAll: ProxyWebServer;

beforeAll(async () => {
  fixture = await startAgentProxy();
  catchAll = await fixture.agent('CATCHALL', '/', (_req, res) => res.end('catch-all app'));
  await catchAll.start();
});

afterAll(async () => {
  await fixture?.stop();
});

async function answer(path: string): Promise<{ status: number; body: string }> {
  const response = await send(fixture.port, path);
  return { status: response.status, body: response.body };
}

describe('rules reserved by a key scope', () => {
  it('answers 403 NO_TARGET for a trusted key’s rule before any backend registered it, not the catch-all', async () => {
    const { publicJwk } = await generateKeyPair('APIKEY');
    const changed = nextEvent(fixture.proxy.registry, 'reserved');
    await fixture.trustStore.add({ id: 'APIKEY', publicKey: publicJwk, scope: { rules: ['/api'] } });
    await changed;
    expect(await answer('/api/users')).toMatchObject({ status: 403, body: expect.stringContaining('NO_TARGET') });
    expect(await answer('/api')).toMatchObject({ status: 403 });
    // Outside the reserved rule the catch-all still answers (segment boundary: /apix is not /api).
    expect(await answer('/apix')).toEqual({ status: 200, body: 'catch-all app' });
    expect(await answer('/')).toEqual({ status: 200, body: 'catch-all app' });
  });

  it('answers 403 NO_TARGET once the backends of /api left, and the catch-all again once the key is removed', async () => {
    const api = await fixture.agent('APIAGENT', '/api', (_req, res) => res.end('api app'));
    await api.start();
    expect(await answer('/api/users')).toEqual({ status: 200, body: 'api app' });
    await api.stop();
    expect(await answer('/api/users')).toMatchObject({ status: 403, body: expect.stringContaining('NO_TARGET') });
    // APIKEY from the previous test still reserves /api, so removing this agent's key changes nothing.
    await fixture.trustStore.remove('APIAGENT');
    expect(await answer('/api/users')).toMatchObject({ status: 403 });
    const released = nextEvent(fixture.proxy.registry, 'reserved');
    await fixture.trustStore.remove('APIKEY');
    await released;
    expect(await answer('/api/users')).toEqual({ status: 200, body: 'catch-all app' });
  });

  it('answers 403 NO_TARGET while the only /api backend is drained by an admin, and routes again once undrained', async () => {
    const api = await fixture.agent('APIDRAIN', '/api', (_req, res) => res.end('api app'));
    await api.start();
    expect(fixture.proxy.controlPlane!.drainAgent('APIDRAIN')).toHaveLength(1);
    expect(await answer('/api/x')).toMatchObject({ status: 403, body: expect.stringContaining('NO_TARGET') });
    expect(fixture.proxy.controlPlane!.undrainAgent('APIDRAIN')).toHaveLength(1);
    expect(await answer('/api/x')).toEqual({ status: 200, body: 'api app' });
  });

  it('does not list reserved rules without backends among the routes of the status snapshot', () => {
    expect(fixture.proxy.snapshot().routes.map((route) => route.rule).sort()).toEqual(['/', '/api']);
  });
});
