/**
 * The agent against a hand-made `ws` server, to observe what goes over the wire: the Authorization
 * header and sub-protocol, a fresh token per dial, the pin check happening before any byte of the
 * upgrade request, ack timeouts and the idle watchdog.
 */
import { describe, it, expect, afterEach } from '@jest/globals';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import type { Ed25519PrivateJwk, Ed25519PublicJwk } from '../../../src/shared/identity/jwk.js';
import { generateDevCertificate } from '../../../src/shared/tls/dev-certificate.js';
import { ProxyWebServer, type ProxyWebServerOptions } from '../../../src/webserver-agent/proxy-web-server.js';
import { nextEvent } from '../../helpers/control-plane-fixture.js';

interface Dial {
  authorization: string | undefined;
  protocol: string | undefined;
  socket: WebSocket;
}

const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

/** A stub proxy: records every dial and answers `register` with `ack` unless told otherwise. */
async function stubProxy(options: { answer?: boolean; server?: http.Server | https.Server; autoPong?: boolean } = {}): Promise<{ url: string; dials: Dial[]; nextDial: () => Promise<Dial> }> {
  const server = options.server ?? http.createServer();
  const wss = new WebSocketServer({ server, autoPong: options.autoPong ?? true, handleProtocols: (protocols) => (protocols.has('inteli.v2') ? 'inteli.v2' : false) });
  const dials: Dial[] = [];
  const waiting: Array<(dial: Dial) => void> = [];
  wss.on('connection', (socket, request) => {
    const dial = { authorization: request.headers.authorization, protocol: socket.protocol, socket };
    dials.push(dial);
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; id?: string };
      if (frame.type === 'register' && options.answer !== false) socket.send(JSON.stringify({ type: 'ack', id: frame.id, result: { backendId: 'b1' } }));
      if (frame.type === 'drain') {
        socket.send(JSON.stringify({ type: 'ack', id: frame.id }));
        socket.send(JSON.stringify({ type: 'drained' }));
      }
    });
    waiting.shift()?.(dial);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  const scheme = server instanceof https.Server ? 'wss' : 'ws';
  return { url: `${scheme}://127.0.0.1:${port}`, dials, nextDial: () => new Promise((resolve) => waiting.push(resolve)) };
}

let keys: { privateJwk: Ed25519PrivateJwk; publicJwk: Ed25519PublicJwk } | undefined;

async function agent(url: string, options: Partial<ProxyWebServerOptions> = {}): Promise<ProxyWebServer> {
  keys ??= await generateKeyPair('WEB001');
  const web = new ProxyWebServer({
    proxyUrl: url,
    agentId: 'WEB001',
    key: keys.privateJwk,
    server: http.createServer((_req, res) => res.end('ok')),
    rules: ['/'],
    insecure: url.startsWith('ws:'),
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    ...options,
  });
  cleanups.push(() => web.stop());
  return web;
}

describe('ProxyWebServer on the wire (stub proxy)', () => {
  it('dials with sub-protocol inteli.v2 and a Bearer EdDSA token for its id and the audience', async () => {
    const proxy = await stubProxy();
    const web = await agent(proxy.url, { audience: 'my-proxy' });
    await web.start();
    const [dial] = proxy.dials;
    expect(dial!.protocol).toBe('inteli.v2');
    const token = /^Bearer (.+)$/.exec(dial!.authorization ?? '')![1]!;
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: 'WEB001' });
    const publicKey = await importJWK({ ...keys!.publicJwk }, 'EdDSA');
    const { payload } = await jwtVerify(token, publicKey, { audience: 'my-proxy', subject: 'WEB001' });
    expect(payload.exp! - payload.iat!).toBe(60);
  });

  it('signs a new token (new jti) for every dial after a drop', async () => {
    const proxy = await stubProxy();
    const web = await agent(proxy.url);
    await web.start();
    const registered = nextEvent(web, 'registered');
    proxy.dials[0]!.socket.terminate();
    await registered;
    const [first, second] = proxy.dials.map((dial) => decodeJwt(dial.authorization!.slice(7)).jti);
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
  });

  it('sends register with its target, rules, weight and meta', async () => {
    const proxy = await stubProxy();
    const frame = new Promise<Record<string, unknown>>((resolve) => {
      void proxy.nextDial().then((dial) => dial.socket.once('message', (data) => resolve(JSON.parse(data.toString()) as Record<string, unknown>)));
    });
    const server = http.createServer();
    const web = await agent(proxy.url, { server, rules: ['/api', { path: '/v2', host: 'example.com' }], weight: 3, meta: { version: '1.2.3' } });
    await web.start();
    expect(await frame).toEqual({
      type: 'register',
      id: expect.any(String),
      targets: [{ host: '127.0.0.1', port: (server.address() as AddressInfo).port, protocol: 'http' }],
      rules: ['/api', { path: '/v2', host: 'example.com' }],
      weight: 3,
      meta: { version: '1.2.3' },
    });
  });

  it('retries a registration the proxy never acks, and rejects start() with RP_ERR_TIMEOUT after startTimeoutMs', async () => {
    const proxy = await stubProxy({ answer: false });
    const server = http.createServer();
    const web = await agent(proxy.url, { server, requestTimeoutMs: 100, startTimeoutMs: 1500, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
    const dialled = proxy.nextDial();
    const retrying = nextEvent<[{ code: string; proxyUrl: string; attempt: number }]>(web, 'retrying');
    const starting = web.start();
    await dialled;
    expect(web.registered).toBe(false);
    const [info] = await retrying;
    expect(info).toMatchObject({ code: 'RP_ERR_TIMEOUT', proxyUrl: proxy.url, attempt: 1 });
    await expect(starting).rejects.toMatchObject({ code: 'RP_ERR_TIMEOUT' });
    expect(server.listening).toBe(false);
  });

  it('retries while nothing listens, and rejects start() with RP_ERR_DISCONNECTED (the last reason) after startTimeoutMs', async () => {
    const proxy = await stubProxy();
    const url = proxy.url;
    await cleanups.pop()!();
    const web = await agent(url, { startTimeoutMs: 300, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
    const retrying = nextEvent<[{ code: string }]>(web, 'retrying');
    const starting = web.start();
    expect((await retrying)[0].code).toBe('RP_ERR_DISCONNECTED');
    await expect(starting).rejects.toMatchObject({ code: 'RP_ERR_DISCONNECTED', message: expect.stringContaining('startTimeoutMs') });
    expect(web.state).toBe('idle');
  });

  it('checks the pin before sending the upgrade request: a wrong pin never leaks the token', async () => {
    const { cert, key } = await generateDevCertificate();
    const requests: string[] = [];
    const server = https.createServer({ cert, key });
    server.on('upgrade', (request) => requests.push(String(request.headers.authorization)));
    server.on('request', (request) => requests.push(String(request.headers.authorization)));
    const proxy = await stubProxy({ server });
    const web = await agent(proxy.url, { pin: 'B'.repeat(43) + '=', insecure: false });
    await expect(web.start()).rejects.toMatchObject({ code: 'RP_ERR_TLS', message: expect.stringContaining('pin') });
    expect(requests).toEqual([]);
    expect(proxy.dials).toEqual([]);
  });

  it('drops a silent connection (no ping, no pong) after idleTimeoutMs and reconnects', async () => {
    const proxy = await stubProxy({ autoPong: false });
    const web = await agent(proxy.url, { idleTimeoutMs: 150 });
    await web.start();
    const [info] = await nextEvent<[{ code: number }]>(web, 'disconnected', 3000);
    expect(info.code).toBe(1006);
    await nextEvent(web, 'registered', 3000);
    expect(proxy.dials.length).toBeGreaterThanOrEqual(2);
  });

  it('keeps a connection whose proxy never pings but answers its pings (slow proxy heartbeat)', async () => {
    const proxy = await stubProxy();
    // 1,200 ms (pings every 400 ms) rather than a few tens of ms: on a loaded machine a stalled event
    // loop could otherwise outlast the idle timeout between a ping and its pong.
    const web = await agent(proxy.url, { idleTimeoutMs: 1200 });
    let disconnected = false;
    web.on('disconnected', () => (disconnected = true));
    await web.start();
    const socket = proxy.dials[0]!.socket;
    // Four agent pings span more than idleTimeoutMs: answered pings keep the connection.
    await new Promise<void>((resolve) => {
      let pings = 0;
      socket.on('ping', () => {
        pings += 1;
        if (pings === 4) resolve();
      });
    });
    expect(disconnected).toBe(false);
    expect(web.registered).toBe(true);
    expect(proxy.dials).toHaveLength(1);
  });

  it('does not crash when the proxy sends garbage frames', async () => {
    const proxy = await stubProxy();
    const web = await agent(proxy.url);
    await web.start();
    const socket = proxy.dials[0]!.socket;
    socket.send('not json');
    socket.send(Buffer.from([1, 2, 3]));
    socket.send(JSON.stringify({ type: 'ack', id: 'unknown' }));
    socket.send(JSON.stringify({ type: 'event', name: 'ok', data: 1 }));
    expect(await nextEvent(web, 'event')).toEqual(['ok', 1, proxy.url]);
    expect(web.registered).toBe(true);
  });
});
