/**
 * Hostile peers on the control plane: random and malformed frames (fast-check), floods and oversized
 * frames close only the offending session with a documented close code; handshakes that never finish
 * are closed by their deadlines; captured tokens and upgrade requests cannot be replayed. Throughout, a
 * legitimate agent stays registered and its route keeps serving.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fc from 'fast-check';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { dial, tryDial, withTimeout, type ControlClient } from '../helpers/control-plane-client.js';
import { startCluster, type HostileCluster } from '../helpers/hostile-cluster.js';
import { expectServing, firstStatus } from '../helpers/hostile-raw.js';
import { note, tallyOne, useTally } from '../helpers/hostile-tally.js';
import type { TestKey } from '../helpers/control-plane-fixture.js';
import { CloseCode } from '../../src/shared/protocol.js';
import { generateKeyPair } from '../../src/shared/identity/key-pair.js';
import { signToken } from '../../src/shared/identity/sign-token.js';

useTally();

const HANDSHAKE_TIMEOUT_MS = 300;
const REGISTER_TIMEOUT_MS = 300;
/** Close codes a misbehaving session may get (protocol error, forbidden, limit exceeded). */
const OFFENDER_CODES = [CloseCode.PROTOCOL_ERROR, CloseCode.FORBIDDEN, CloseCode.LIMIT_EXCEEDED];

let cluster: HostileCluster;
let attacker: TestKey;
let good: TestKey;

beforeAll(async () => {
  cluster = await startCluster({
    control: {
      limits: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, registerTimeoutMs: REGISTER_TIMEOUT_MS, maxSessionsPerKey: 200, maxFrameBytes: 4096 },
    },
  });
  attacker = await cluster.addKey('attacker', ['/evil']);
  good = await cluster.addKey('good', ['/api']);
  await cluster.startAgent(good, ['/api']);
  await expectServing(cluster.port);
});

afterAll(async () => {
  await cluster.close();
});

async function attackerSession(): Promise<ControlClient> {
  return dial(cluster.url, { ca: cluster.cert.cert, token: await cluster.token(attacker) });
}

/** The legitimate agent is still registered and its route serves. */
async function expectGoodAgentServing(): Promise<void> {
  expect(cluster.proxy.registry.list().some((backend) => backend.agentId === 'good')).toBe(true);
  await expectServing(cluster.port);
}

/** Arbitrary frames: JSON values of any shape, protocol-looking objects with wrong fields, raw text and bytes. */
const frameArbitrary = fc.oneof(
  fc.jsonValue({ depthSize: 'medium' }).map((value) => JSON.stringify(value)),
  fc.record(
    {
      type: fc.oneof(fc.constantFrom('register', 'drain', 'event', 'keys.add', 'keys.remove', 'keys.list', 'backends.list', 'backends.drain', 'ack', 'pong'), fc.string()),
      id: fc.oneof(fc.string({ maxLength: 80 }), fc.integer(), fc.constant(null)),
      targets: fc.anything({ maxDepth: 3 }),
      rules: fc.anything({ maxDepth: 3 }),
      weight: fc.oneof(fc.double(), fc.bigInt().map(String), fc.constant(1e308)),
      name: fc.anything({ maxDepth: 2 }),
      data: fc.anything({ maxDepth: 3 }),
    },
    { requiredKeys: ['type'] },
  ).map((value) => JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.integer({ min: 1, max: 400 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc.constant('{"type":"register","id":"x","targets":[{"host":"127.0.0.1","port":1e400}],"rules":["/evil"]}'),
);

describe('malformed frames close only the offending session', () => {
  it('random frame sequences (fast-check): the session stays open or closes with 4002/4003/4008, the proxy never crashes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(frameArbitrary, { minLength: 1, maxLength: 12 }), async (frames) => {
        const client = await attackerSession();
        for (const frame of frames) {
          if (client.ws.readyState !== client.ws.OPEN) break;
          client.sendRaw(frame);
        }
        // A backends.list answered (or the close) proves every frame before it was handled.
        const settled = await Promise.race([
          client.request({ type: 'backends.list' }, 2000).then(() => 'answered', () => 'no-reply'),
          client.closed.then(() => 'closed'),
        ]);
        // Either the session still answers, or the proxy closed it with an offender code. A session
        // left open that stops answering fails here (closeCode rejects when no close comes).
        if (settled !== 'answered' || client.ws.readyState !== client.ws.OPEN) {
          const code = await client.closeCode(2000);
          expect(OFFENDER_CODES).toContain(code);
        }
        await client.close();
        // The legitimate agent was never touched.
        expect(cluster.proxy.registry.list().some((backend) => backend.agentId === 'good')).toBe(true);
      }),
      { numRuns: 60, seed: 6, endOnFailure: true },
    );
    await expectGoodAgentServing();
  }, 40_000);

  it('an oversized frame closes the session with 4008', async () => {
    const client = await attackerSession();
    client.sendRaw(JSON.stringify({ type: 'event', name: 'x', data: 'a'.repeat(10_000) }));
    expect(await client.closeCode()).toBe(CloseCode.LIMIT_EXCEEDED);
    await expectGoodAgentServing();
  });

  it('a deeply nested frame within the size limit is refused without closing the proxy', async () => {
    const client = await attackerSession();
    client.sendRaw(`{"type":"event","name":"x","data":${'['.repeat(2000)}${']'.repeat(2000)}}`);
    const outcome = await Promise.race([client.waitFor((frame) => frame.type === 'error', 2000).then(() => 'error-reply'), client.closed.then(({ code }) => `closed ${code}`)]);
    expect(outcome === 'error-reply' || outcome === `closed ${CloseCode.PROTOCOL_ERROR}` || outcome === `closed ${CloseCode.LIMIT_EXCEEDED}`).toBe(true);
    await client.close();
    await expectGoodAgentServing();
  });

  it('a flood of frames closes the session with 4008', async () => {
    const client = await attackerSession();
    for (let i = 0; i < 500 && client.ws.readyState === client.ws.OPEN; i += 1) client.sendRaw({ type: 'event', name: 'flood', data: i });
    expect(await client.closeCode()).toBe(CloseCode.LIMIT_EXCEEDED);
    await expectGoodAgentServing();
  });

  it('binary frames and invalid JSON close the session with 4002 after too many', async () => {
    const client = await attackerSession();
    for (let i = 0; i < 10 && client.ws.readyState === client.ws.OPEN; i += 1) client.sendRaw(i % 2 === 0 ? Buffer.from([0, 1, 2, i]) : '{not json');
    expect(await client.closeCode()).toBe(CloseCode.PROTOCOL_ERROR);
    await expectGoodAgentServing();
  });
});

function tcpOpen(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

function tlsOpen(port: number, ca: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', ca, servername: 'localhost' }, () => resolve(socket));
    socket.on('error', reject);
  });
}

function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return withTimeout(
    new Promise<boolean>((resolve) => socket.once('close', () => resolve(true))),
    ms,
    'the proxy to close an abandoned handshake',
  ).catch(() => {
    socket.destroy();
    return false;
  });
}

describe('handshake abuse', () => {
  it('hundreds of connections that never finish TLS, HTTP or registration are closed by their deadlines; a real agent still connects', async () => {
    const bound = HANDSHAKE_TIMEOUT_MS + REGISTER_TIMEOUT_MS + 3000;
    const noTls = await Promise.all(Array.from({ length: 200 }, () => tcpOpen(cluster.controlPort)));
    // Each socket reads (and drops) what the proxy sends, so the proxy's end of stream is seen.
    for (const socket of noTls) socket.on('error', () => undefined).resume();
    const noHttp = await Promise.all(Array.from({ length: 100 }, () => tlsOpen(cluster.controlPort, cluster.cert.cert)));
    for (const socket of noHttp) socket.on('error', () => undefined).resume();
    const noRegister: ControlClient[] = [];
    for (let i = 0; i < 50; i += 1) noRegister.push(await attackerSession());
    // Meanwhile a legitimate agent connects and registers.
    const late = await cluster.addKey('late', ['/late']);
    await cluster.startAgent(late, ['/late']);
    await expectServing(cluster.port, '/late/x');
    const closed = await Promise.all([...noTls, ...noHttp].map((socket) => closedWithin(socket, bound)));
    expect(closed.filter((value) => !value)).toHaveLength(0);
    const codes = await Promise.all(noRegister.map((client) => client.closeCode(bound)));
    expect(new Set(codes)).toEqual(new Set([CloseCode.LIMIT_EXCEEDED]));
    await expectGoodAgentServing();
  }, 20_000);
});

function upgradeRequest(token: string): string {
  return (
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${cluster.controlPort}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: inteli.v2\r\n` +
    `Authorization: Bearer ${token}\r\n\r\n`
  );
}

/**
 * Sends a raw upgrade request over a fresh TLS connection; resolves with the answer's status (0 when
 * none) and the milliseconds from the connection attempt to the answer.
 */
async function timedUpgrade(bytes: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const socket = await tlsOpen(cluster.controlPort, cluster.cert.cert);
  socket.on('error', () => undefined);
  let status = 0;
  try {
    status = await withTimeout(
      new Promise<number>((resolve) => {
        let text = '';
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString('latin1');
          if (text.includes('\r\n\r\n')) resolve(firstStatus(text));
        });
        socket.on('close', () => resolve(firstStatus(text)));
        socket.write(bytes);
      }),
      5000,
      'upgrade answer',
    );
  } finally {
    socket.destroy();
    tallyOne(status > 0);
  }
  return { status, ms: performance.now() - started };
}

async function rawUpgrade(bytes: string): Promise<number> {
  return (await timedUpgrade(bytes)).status;
}

describe('forged-token flood', () => {
  it('300 upgrades with forged, unsigned, expired or foreign tokens are all refused (401/429, or 400 once the handshake deadline passed) while an agent joins', async () => {
    const stranger = await generateKeyPair('stranger');
    const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    // The proxy's real audience, so each forgery is refused for what it forges, not for its audience.
    const aud = cluster.proxy.controlPlane?.audience ?? 'inteli-proxy';
    const forged: [kind: string, make: () => Promise<string>][] = [
      ['alg none', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'good', aud, iat: now, exp: now + 60, jti: randomBytes(8).toString('hex') })}.`],
      ['random signature', async () => `${b64({ alg: 'EdDSA', kid: 'good' })}.${b64({ sub: 'good', aud, iat: now, exp: now + 60, jti: randomBytes(8).toString('hex') })}.${randomBytes(64).toString('base64url')}`],
      ['untrusted key', async () => signToken(stranger.privateJwk, { subject: 'good', audience: aud, ttlSeconds: 60 })],
      ['foreign audience', async () => signToken(attacker.privateJwk, { subject: 'attacker', audience: 'someone-else', ttlSeconds: 60 })],
      ['other subject', async () => signToken(attacker.privateJwk, { subject: 'good', audience: aud, ttlSeconds: 60 })],
      ['expired', async () => signToken(attacker.privateJwk, { subject: 'attacker', audience: aud, ttlSeconds: 60, now: () => Date.now() - 3_600_000 })],
      ['6,000-byte garbage', async () => 'x'.repeat(6000)],
      ['empty', async () => ''],
    ];
    const outcomes: { kind: string; status: number; ms: number }[] = [];
    const joining = (async () => {
      const late = await cluster.addKey('flood-survivor', ['/survivor']);
      await cluster.startAgent(late, ['/survivor']);
    })();
    for (let batch = 0; batch < 6; batch += 1) {
      const picked = Array.from({ length: 50 }, (_, index) => forged[(batch * 50 + index) % forged.length]!);
      const tokens = await Promise.all(picked.map(([, make]) => make()));
      const answers = await Promise.all(tokens.map((token) => timedUpgrade(upgradeRequest(token))));
      answers.forEach(({ status, ms }, index) => outcomes.push({ kind: picked[index]![0], status, ms }));
    }
    await joining;
    const histogram = new Map<number, number>();
    for (const { status } of outcomes) histogram.set(status, (histogram.get(status) ?? 0) + 1);
    note(`forged-token flood: ${[...histogram].sort((a, b) => a[0] - b[0]).map(([status, count]) => `${count} x ${status}`).join(', ')}`);
    expect(outcomes).toHaveLength(300);
    // 401, or 429 when too many handshakes are pending at once. On a loaded machine a handshake may
    // outlive this cluster's 300 ms handshake deadline, which answers 400: accepted only when the
    // deadline had passed, so a token that made the proxy answer 400 still fails here.
    const cutByDeadline = ({ status, ms }: { status: number; ms: number }): boolean => status === 400 && ms >= HANDSHAKE_TIMEOUT_MS;
    expect(outcomes.filter((outcome) => outcome.status !== 401 && outcome.status !== 429 && !cutByDeadline(outcome))).toEqual([]);
    // Every kind of forged token reached the token check and was refused there at least once.
    expect(forged.map(([kind]) => kind).filter((kind) => !outcomes.some((outcome) => outcome.kind === kind && outcome.status === 401))).toEqual([]);
    await expectServing(cluster.port, '/survivor/x');
    await expectGoodAgentServing();
  }, 30_000);
});

describe('replays are refused', () => {
  it('a captured token is refused the second time (401)', async () => {
    const token = await cluster.token(attacker);
    const first = await tryDial(cluster.url, { ca: cluster.cert.cert, token });
    expect(first.ok).toBe(true);
    if (first.ok) await first.client.close();
    const second = await tryDial(cluster.url, { ca: cluster.cert.cert, token });
    expect(second).toMatchObject({ ok: false, status: 401 });
    await expectGoodAgentServing();
  });

  it('a captured upgrade request resent byte for byte is refused (401)', async () => {
    const bytes = upgradeRequest(await cluster.token(attacker));
    expect(await rawUpgrade(bytes)).toBe(101);
    expect(await rawUpgrade(bytes)).toBe(401);
    await expectGoodAgentServing();
  });
});
