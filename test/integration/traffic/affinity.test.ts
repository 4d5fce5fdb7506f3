/**
 * Issue 13, item 1 beyond Socket.IO: a proxy-wide default affinity, an agent's `hash` affinity on a
 * header, and sticky clients moving when their target is drained by an admin (then coming back to a
 * fresh pick that sticks again).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startAgentProxy, type AgentProxy } from '../../helpers/agent-proxy.js';
import { send } from '../../helpers/data-plane-client.js';

let fixture: AgentProxy;

beforeAll(async () => {
  // The proxy's default: cookie affinity for routes whose agents ask for nothing.
  fixture = await startAgentProxy({ proxy: { affinity: 'cookie' } });
  for (const name of ['STICKY-A', 'STICKY-B']) {
    const agent = await fixture.agent(name, '/app', (_req, res) => res.end(name));
    await agent.start();
  }
  for (const name of ['HASH-A', 'HASH-B', 'HASH-C']) {
    const agent = await fixture.agent(name, '/hashed', (_req, res) => res.end(name), { affinity: 'hash', affinityHeader: 'X-Tenant' });
    await agent.start();
  }
});

afterAll(async () => {
  await fixture?.stop();
});

function cookieOf(setCookie: string[] | undefined): string {
  expect(setCookie).toHaveLength(1);
  return setCookie![0]!.split(';')[0]!;
}

describe('affinity', () => {
  it("applies the proxy's default cookie affinity, and moves a sticky client off a drained target", async () => {
    const first = await send(fixture.port, '/app/page');
    const home = first.body;
    const cookie = cookieOf(first.headers['set-cookie']);
    expect(first.headers['set-cookie']![0]).toMatch(/; Path=\/app; HttpOnly; SameSite=Lax$/);
    for (let round = 0; round < 4; round += 1) {
      const again = await send(fixture.port, '/app/page', { headers: { cookie } });
      expect(again.body).toBe(home);
      expect(again.headers['set-cookie']).toBeUndefined();
    }
    fixture.proxy.controlPlane!.drainAgent(home);
    try {
      const moved = await send(fixture.port, '/app/page', { headers: { cookie } });
      expect(moved.status).toBe(200);
      expect(moved.body).not.toBe(home);
      const newCookie = cookieOf(moved.headers['set-cookie']);
      expect(newCookie).not.toBe(cookie);
      expect((await send(fixture.port, '/app/page', { headers: { cookie: newCookie } })).body).toBe(moved.body);
    } finally {
      fixture.proxy.controlPlane!.undrainAgent(home);
    }
    // Undrained, the old cookie leads home again.
    expect((await send(fixture.port, '/app/page', { headers: { cookie } })).body).toBe(home);
  });

  it("applies an agent's hash affinity on a header: one tenant, one backend; tenants spread", async () => {
    const homes = new Map<string, string>();
    for (let tenant = 0; tenant < 24; tenant += 1) {
      const answers = new Set<string>();
      for (let round = 0; round < 3; round += 1) answers.add((await send(fixture.port, '/hashed', { headers: { 'x-tenant': `t${tenant}` } })).body);
      expect(answers.size).toBe(1);
      homes.set(`t${tenant}`, [...answers][0]!);
    }
    expect(new Set(homes.values()).size).toBe(3);
    // No cookie in hash mode.
    expect((await send(fixture.port, '/hashed', { headers: { 'x-tenant': 't0' } })).headers['set-cookie']).toBeUndefined();
  });
});
