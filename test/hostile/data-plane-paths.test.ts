/**
 * Path confusion and odd request forms: the route is chosen on the normalised path and exactly that path
 * is forwarded, so `/api/../admin` can never reach the `/api` backend as `/admin` (a routing bypass);
 * encodings that cannot be normalised safely get 400; CONNECT and asterisk-form targets get an answer.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startBackend, type TestBackend } from '../helpers/data-plane-backends.js';
import { register, startProxy } from '../helpers/data-plane-client.js';
import { expectServing, rawExchange } from '../helpers/hostile-raw.js';
import { useTally } from '../helpers/hostile-tally.js';
import type { ProxyServer } from '../../src/proxy/proxy-server.js';

useTally();

let proxy: ProxyServer;
let port: number;
let api: TestBackend;
let admin: TestBackend;

beforeAll(async () => {
  api = await startBackend('api');
  admin = await startBackend('admin');
  ({ proxy, port } = await startProxy());
  register(proxy, api, ['/api']);
  register(proxy, admin, ['/admin']);
});

afterAll(async () => {
  await proxy.stop();
  await Promise.all([api.close(), admin.close()]);
});

/** [target as sent, backend that must answer, path it must receive]. */
const ROUTED: ReadonlyArray<readonly [string, string, string]> = [
  ['/api/../admin', 'admin', '/admin'],
  ['/api/%2e%2e/admin', 'admin', '/admin'],
  ['/api/%2E%2E/admin', 'admin', '/admin'],
  ['/api/.%2e/admin', 'admin', '/admin'],
  ['/api//../admin', 'admin', '/admin'],
  ['/api;/../admin', 'admin', '/admin'],
  ['//admin', 'admin', '/admin'],
  ['/api/./x', 'api', '/api/x'],
  ['/api/x?a=/../admin', 'api', '/api/x?a=/../admin'],
  ['/api/%252e%252e/admin', 'api', '/api/%252e%252e/admin'],
  ['http://a/admin', 'admin', '/admin'],
  ['/admin/../api/x', 'api', '/api/x'],
];

/** Targets that cannot be normalised safely: 400. */
const REFUSED: readonly string[] = ['/api%2F..%2Fadmin', '/api/..%2Fadmin', '/api\\..\\admin', '/api/%', 'ftp://a/api/x', '*'];

function answer(text: string): { name: string; url: string } | undefined {
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  try {
    return JSON.parse(body) as { name: string; url: string };
  } catch {
    return undefined;
  }
}

describe('routing uses the normalised path and forwards exactly it', () => {
  it.each(ROUTED)('%s reaches %s as %s', async (target, name, path) => {
    const reply = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    expect(reply.status).toBe(200);
    expect(answer(reply.text)).toEqual({ name, url: path });
    await expectServing(port);
  });

  it.each(REFUSED)('%s gets 400', async (target) => {
    const before = api.hits() + admin.hits();
    const reply = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    expect(reply.status).toBe(400);
    expect(api.hits() + admin.hits()).toBe(before);
    await expectServing(port);
  });
});

describe('odd methods', () => {
  it('CONNECT gets a 400 answer (no tunnel, never a silent close)', async () => {
    const reply = await rawExchange(port, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n');
    expect(reply.status).toBe(400);
    expect(reply.closedByPeer).toBe(true);
    await expectServing(port);
  });

  it('a method Node does not know gets 400', async () => {
    const reply = await rawExchange(port, 'BREW /api/x HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(reply.status).toBe(400);
    await expectServing(port);
  });
});
