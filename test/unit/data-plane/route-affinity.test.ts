import { describe, expect, it } from '@jest/globals';
import { affinityCookieName, AffinityTokens, cookieValue, RouteAffinity } from '../../../src/proxy/data-plane/route-affinity.js';
import { MutableRequestFacts } from '../../../src/proxy/data-plane/request-facts.js';
import { roundRobin } from '../../../src/proxy/data-plane/selectors/round-robin.js';
import type { Upstream } from '../../../src/proxy/data-plane/upstream.js';
import { hashString, mix32 } from '../../../src/proxy/data-plane/rendezvous-hash.js';

function upstream(agentId: string, port: number): Upstream {
  const origin = `http://127.0.0.1:${port}`;
  return { key: `${agentId}#1|${origin}`, origin, available: true, inFlight: 0, weight: 1, identityHash: mix32(hashString(`${agentId}|${origin}`)), backend: { agentId } } as unknown as Upstream;
}

function facts(headers: string[], encrypted = false, address = '127.0.0.1'): MutableRequestFacts {
  return new MutableRequestFacts().reset('GET', '/app/x', 'example.test', address, headers, encrypted);
}

describe('cookieValue', () => {
  it.each([
    ['a=1; inteli_aff_x=TOKEN; b=2', 'TOKEN'],
    ['inteli_aff_x=TOKEN', 'TOKEN'],
    ['xinteli_aff_x=NO; inteli_aff_x=YES', 'YES'],
    ['inteli_aff_xy=NO', undefined],
    ['other=1', undefined],
  ])('finds the cookie in %j', (header, expected) => {
    expect(cookieValue(header, 'inteli_aff_x')).toBe(expected);
  });
});

describe('RouteAffinity (cookie)', () => {
  const tokens = new AffinityTokens(Buffer.alloc(32, 7));
  const upstreams = [upstream('A', 1), upstream('B', 2), upstream('C', 3)];
  const affinity = new RouteAffinity({ mode: 'cookie', header: undefined }, '/app', '/app', upstreams, tokens);
  const selector = roundRobin(upstreams);
  const name = affinityCookieName('/app');

  it('sets an opaque, signed cookie on a fresh pick and follows it afterwards', () => {
    const first = facts([]);
    const picked = affinity.select(selector, first)!;
    expect(first.setCookie).toMatch(new RegExp(`^${name}=[A-Za-z0-9_-]{22}; Path=/app; HttpOnly; SameSite=Lax$`));
    expect(first.setCookie).not.toContain('127.0.0.1');
    const cookie = first.setCookie!.split(';')[0]!;
    for (let round = 0; round < 5; round += 1) {
      const next = facts(['Cookie', `other=1; ${cookie}`]);
      expect(affinity.select(selector, next)).toBe(picked);
      expect(next.setCookie).toBeUndefined();
    }
  });

  it('adds Secure on TLS connections', () => {
    const secure = facts([], true);
    affinity.select(selector, secure);
    expect(secure.setCookie).toMatch(/; Secure$/);
  });

  it('replaces a forged, foreign or stale cookie with a fresh pick and a new cookie', () => {
    const forged = facts(['cookie', `${name}=AAAAAAAAAAAAAAAAAAAAAA`]);
    expect(affinity.select(selector, forged)).toBeDefined();
    expect(forged.setCookie).toBeDefined();
    const other = new RouteAffinity({ mode: 'cookie', header: undefined }, '/app', '/app', upstreams, new AffinityTokens(Buffer.alloc(32, 8)));
    const foreign = facts([]);
    other.select(selector, foreign);
    const replaced = facts(['cookie', foreign.setCookie!.split(';')[0]!]);
    affinity.select(selector, replaced);
    expect(replaced.setCookie).toBeDefined();
  });

  it('moves a sticky client when its target is not available, and sets the new cookie', () => {
    const first = facts([]);
    const picked = affinity.select(selector, first)!;
    (picked as { available: boolean }).available = false;
    try {
      const moved = facts(['cookie', first.setCookie!.split(';')[0]!]);
      const next = affinity.select(selector, moved);
      expect(next).not.toBe(picked);
      expect(moved.setCookie).toBeDefined();
      expect(moved.setCookie).not.toBe(first.setCookie);
    } finally {
      (picked as { available: boolean }).available = true;
    }
  });
});

describe('RouteAffinity (hash)', () => {
  const upstreams = [upstream('A', 1), upstream('B', 2), upstream('C', 3)];
  const tokens = new AffinityTokens(Buffer.alloc(32, 7));

  it('sends one client address to one upstream, and sets no cookie', () => {
    const affinity = new RouteAffinity({ mode: 'hash', header: undefined }, '/app', '/app', upstreams, tokens);
    const selector = roundRobin(upstreams);
    const first = affinity.select(selector, facts([], false, '10.1.2.3'));
    for (let round = 0; round < 5; round += 1) {
      const next = facts([], false, '10.1.2.3');
      expect(affinity.select(selector, next)).toBe(first);
      expect(next.setCookie).toBeUndefined();
    }
  });

  it('hashes the named header when present, else the client address', () => {
    const affinity = new RouteAffinity({ mode: 'hash', header: 'x-user' }, '/app', '/app', upstreams, tokens);
    const selector = roundRobin(upstreams);
    const seen = new Set<Upstream | undefined>();
    for (let user = 0; user < 30; user += 1) {
      const picks = new Set([1, 2, 3].map((client) => affinity.select(selector, facts(['X-User', `u${user}`], false, `10.0.0.${client}`))));
      expect(picks.size).toBe(1);
      seen.add([...picks][0]);
    }
    expect(seen.size).toBe(3);
  });
});
