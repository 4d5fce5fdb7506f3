/** Options that change behaviour end to end: https targets, access logging, a custom selector. */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { ProxySelectorFactory } from '../../../src/proxy/data-plane/selectors/proxy-selector.js';
import { generateDevCertificate } from '../../../src/shared/tls/dev-certificate.js';
import { startBackend } from '../../helpers/data-plane-backends.js';
import { register, send, startProxy, whoAnswers } from '../../helpers/data-plane-client.js';

describe('data plane options end to end', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step();
    cleanup.length = 0;
  });

  it('forwards to an https target verified with upstreamCa', async () => {
    const pair = await generateDevCertificate();
    const server = createServer({ cert: pair.cert, key: pair.key }, (_req, res) => res.end(JSON.stringify({ name: 'secure' })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const { port: httpsPort } = server.address() as AddressInfo;
    const trusting = await startProxy({ upstreamCa: pair.cert });
    cleanup.push(() => trusting.proxy.stop());
    const doubting = await startProxy();
    cleanup.push(() => doubting.proxy.stop());
    for (const { proxy } of [trusting, doubting]) {
      proxy.registry.add({ agentId: 'secure', targets: [{ protocol: 'https', host: '127.0.0.1', port: httpsPort }], rules: [{ path: '/' }] });
    }
    expect(await whoAnswers(trusting.port, '/x')).toBe('secure');
    // Without the CA the self-signed certificate is refused: never forward to an unverified target.
    expect((await send(doubting.port, '/x')).status).toBe(502);
  });

  it('writes one access line per forwarded request when accessLog is on, without the query string (issue 14)', async () => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    const backend = await startBackend('logged');
    cleanup.push(() => backend.close());
    const { proxy, port } = await startProxy({ accessLog: true, logger: pino({ level: 'info' }, destination) });
    cleanup.push(() => proxy.stop());
    register(proxy, backend);
    await send(port, '/api/a?b=1', { headers: { 'x-request-id': 'log-1', authorization: 'Bearer secret' } });
    await proxy.stop();
    const access = lines.filter((line) => line.msg === 'access');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ method: 'GET', url: '/api/a', status: 200, requestId: 'log-1', component: 'data-plane' });
    expect(JSON.stringify(lines)).not.toContain('secret');
    expect(JSON.stringify(lines)).not.toContain('b=1');
  });

  it('logs the query string only with accessLog: { query: true }', async () => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    const backend = await startBackend('logged-query');
    cleanup.push(() => backend.close());
    const { proxy, port } = await startProxy({ accessLog: { query: true }, logger: pino({ level: 'info' }, destination) });
    cleanup.push(() => proxy.stop());
    register(proxy, backend);
    await send(port, '/api/a?b=1');
    await proxy.stop();
    expect(lines.filter((line) => line.msg === 'access').map((line) => line.url)).toEqual(['/api/a?b=1']);
  });

  it('uses a custom ProxySelector factory', async () => {
    const [a, b] = await Promise.all([startBackend('A'), startBackend('B')]);
    cleanup.push(() => a.close(), () => b.close());
    // Always the last available upstream.
    const last: ProxySelectorFactory = (initial) => {
      let upstreams = initial;
      return {
        select: (exclude) => [...upstreams].reverse().find((upstream) => upstream.available && upstream !== exclude),
        update: (next) => {
          upstreams = next;
        },
      };
    };
    const { proxy, port } = await startProxy({ selector: last });
    cleanup.push(() => proxy.stop());
    register(proxy, a);
    expect(await whoAnswers(port, '/api')).toBe('A');
    register(proxy, b);
    expect([await whoAnswers(port, '/api'), await whoAnswers(port, '/api')]).toEqual(['B', 'B']);
  });
});
