/**
 * A hostile or broken proxy against the agent: after a normal registration the proxy sends random
 * frames (fast-check: any JSON, protocol-looking frames with wrong fields, replies to unknown ids,
 * unsolicited `drained`, huge and binary frames), then closes with a random code. The agent never
 * throws, its web server keeps serving, and it registers again on the next connection.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fc from 'fast-check';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { ERROR_CATALOG } from '../../src/shared/errors.js';
import { generateKeyPair } from '../../src/shared/identity/key-pair.js';
import { ProxyWebServer } from '../../src/webserver-agent/proxy-web-server.js';
import { countedSend } from '../helpers/hostile-raw.js';
import { withTimeout } from '../helpers/control-plane-client.js';
import { useTally } from '../helpers/hostile-tally.js';

useTally();

let stub: http.Server;
let wss: WebSocketServer;
let url: string;
let agent: ProxyWebServer;
let web: http.Server;
let current: WebSocket | undefined;
const registered: Array<() => void> = [];
/** Every error the agent emitted, in order. */
const errors: { code: string; message: string }[] = [];

/**
 * The code the agent must report for `frame` when it is a well-formed `error` frame without a pending
 * request (every frame here: the registration was acknowledged before), else undefined. An unknown code
 * is reported as RP_ERR_REJECTED. Written from the protocol, independently of the agent's parser.
 */
function reportedCode(frame: string | Buffer): string | undefined {
  if (typeof frame !== 'string') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { type, id, code } = value as { type?: unknown; id?: unknown; code?: unknown };
  if (id !== undefined && (typeof id !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(id))) return undefined;
  if (type !== 'error' || typeof code !== 'string' || code.length === 0 || code.length > 64) return undefined;
  return Object.hasOwn(ERROR_CATALOG, code) ? code : 'RP_ERR_REJECTED';
}

beforeAll(async () => {
  stub = http.createServer();
  wss = new WebSocketServer({ server: stub, handleProtocols: (protocols) => (protocols.has('inteli.v2') ? 'inteli.v2' : false) });
  wss.on('connection', (socket) => {
    current = socket;
    socket.on('error', () => undefined);
    socket.on('message', (data) => {
      let frame: { type?: unknown; id?: unknown };
      try {
        frame = JSON.parse(data.toString()) as { type?: unknown; id?: unknown };
      } catch {
        return;
      }
      if (frame.type === 'register') {
        socket.send(JSON.stringify({ type: 'ack', id: frame.id, result: { backendId: 'b1' } }));
        for (const resolve of registered.splice(0)) resolve();
      }
    });
  });
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
  url = `ws://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  const { privateJwk } = await generateKeyPair('victim-agent');
  web = http.createServer((_req, res) => res.end('still here'));
  agent = new ProxyWebServer({
    proxyUrl: url,
    insecure: true,
    agentId: 'victim-agent',
    key: privateJwk,
    server: web,
    rules: ['/api'],
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    requestTimeoutMs: 2000,
    drainTimeoutMs: 200,
    closeGraceMs: 200,
  });
  agent.on('error', (error) => errors.push({ code: error.code, message: error.message }));
  await agent.start();
});

afterAll(async () => {
  await agent.stop();
  for (const client of wss.clients) client.terminate();
  wss.close();
  stub.closeAllConnections();
  await new Promise<void>((resolve) => stub.close(() => resolve()));
});

const frameArbitrary = fc.oneof(
  fc.jsonValue({ depthSize: 'medium' }).map((value) => JSON.stringify(value)),
  fc.record(
    {
      type: fc.oneof(fc.constantFrom('ack', 'error', 'drained', 'event', 'register', 'ping'), fc.string()),
      id: fc.oneof(fc.string({ maxLength: 80 }), fc.integer(), fc.constant(null), fc.constant('r1')),
      code: fc.oneof(fc.string(), fc.constantFrom('RP_ERR_FORBIDDEN', 'RP_ERR_UNAUTHORIZED', 'RP_ERR_LIMIT'), fc.integer()),
      message: fc.anything({ maxDepth: 2 }),
      name: fc.anything({ maxDepth: 2 }),
      data: fc.anything({ maxDepth: 3 }),
      result: fc.anything({ maxDepth: 3 }),
    },
    { requiredKeys: ['type'] },
  ).map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.integer({ min: 1, max: 5000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
);

/** Close codes a broken proxy may use; 4001/4003 are refusals after which the agent stops dialling by design. */
const closeCodeArbitrary = fc.constantFrom(1000, 1001, 1011, 4002, 4008, 4009, 4999);

async function webServes(): Promise<void> {
  const response = await countedSend((web.address() as AddressInfo).port, '/api/x');
  expect(response.body).toBe('still here');
}

describe('a hostile proxy cannot take the agent down', () => {
  it('random frames then a random close: the agent keeps its web server and registers again', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(frameArbitrary, { minLength: 1, maxLength: 10 }), closeCodeArbitrary, async (frames, code) => {
        const socket = current;
        if (socket === undefined) throw new Error('no connection');
        const firstError = errors.length;
        for (const frame of frames) socket.send(frame);
        const again = new Promise<void>((resolve) => registered.push(resolve));
        socket.close(code);
        await withTimeout(again, 5000, 'the agent to register again');
        expect(agent.state).toBe('running');
        // Each well-formed error frame was reported as a typed error, in order, and nothing else was:
        // every other frame was ignored (no throw, no spurious error).
        const reported = errors.slice(firstError).filter((error) => error.message.startsWith('the proxy reported'));
        expect(reported.map((error) => error.code)).toEqual(frames.map(reportedCode).filter((value) => value !== undefined));
        expect(errors.slice(firstError).filter((error) => !error.message.startsWith('the proxy reported'))).toEqual([]);
      }),
      { numRuns: 40, seed: 6, endOnFailure: true },
    );
    await webServes();
  }, 60_000);

  it('an oversized frame from the proxy drops the connection, not the agent', async () => {
    const socket = current;
    if (socket === undefined) throw new Error('no connection');
    const again = new Promise<void>((resolve) => registered.push(resolve));
    const firstError = errors.length;
    socket.send(JSON.stringify({ type: 'event', name: 'big', data: 'x'.repeat(8 * 1024 * 1024) }));
    await withTimeout(again, 10_000, 'the agent to register again');
    expect(agent.state).toBe('running');
    // The dropped connection is not a refusal: nothing is reported.
    expect(errors.slice(firstError)).toEqual([]);
    await webServes();
  }, 20_000);
});
