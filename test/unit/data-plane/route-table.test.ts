import { describe, expect, it } from '@jest/globals';
import { RouteTable } from '../../../src/proxy/data-plane/route-table.js';
import type { Route } from '../../../src/proxy/data-plane/route.js';
import { pathEnd } from '../../../src/shared/routing/path-normalizer.js';

function route(path: string, host?: string): Route {
  return { key: host === undefined ? path : `${host}${path}`, rule: { path, host }, upstreams: [], selector: { select: () => undefined, update: () => undefined }, affinity: undefined, bodyTimeoutMs: undefined, reserved: false };
}

function lookup(table: RouteTable, target: string, host?: string): string | undefined {
  return table.match(host, target, pathEnd(target))?.key;
}

describe('RouteTable', () => {
  const table = new RouteTable([route('/'), route('/api'), route('/api/v2'), route('/api', 'a.example'), route('/static/img')]);

  it('matches the longest rule on a segment boundary', () => {
    expect(lookup(table, '/api')).toBe('/api');
    expect(lookup(table, '/api/')).toBe('/api');
    expect(lookup(table, '/api?q=1')).toBe('/api');
    expect(lookup(table, '/api/x/y')).toBe('/api');
    expect(lookup(table, '/api/v2')).toBe('/api/v2');
    expect(lookup(table, '/api/v2/x?y')).toBe('/api/v2');
    expect(lookup(table, '/api/v22')).toBe('/api');
    expect(lookup(table, '/apix')).toBe('/');
    expect(lookup(table, '/')).toBe('/');
    expect(lookup(table, '/static')).toBe('/');
    expect(lookup(table, '/static/img/a.png')).toBe('/static/img');
  });

  it('prefers a host-specific rule of the same path, but a longer any-host rule wins', () => {
    expect(lookup(table, '/api/x', 'A.Example:8080')).toBe('a.example/api');
    expect(lookup(table, '/api/v2/x', 'a.example')).toBe('/api/v2');
    expect(lookup(table, '/api', 'b.example')).toBe('/api');
  });

  it('returns undefined when nothing matches', () => {
    const small = new RouteTable([route('/api')]);
    expect(lookup(small, '/apix')).toBeUndefined();
    expect(lookup(small, '/')).toBeUndefined();
    expect(lookup(new RouteTable([]), '/api')).toBeUndefined();
    expect(small.hasHostRules).toBe(false);
    expect(table.hasHostRules).toBe(true);
  });

  it('matches deep paths against shallow rules', () => {
    const small = new RouteTable([route('/')]);
    expect(lookup(small, '/a/b/c/d/e/f')).toBe('/');
    expect(lookup(new RouteTable([route('/a')]), '/a/b/c/d/e/f')).toBe('/a');
  });
});
