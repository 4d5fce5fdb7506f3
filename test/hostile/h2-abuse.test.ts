/**
 * The HTTP/2 listener under the known HTTP/2 attacks, each bounded: more concurrent streams than the
 * advertised limit (refused), rapid reset (CVE-2023-44487: the session is closed with ENHANCE_YOUR_CALM
 * and few requests reach the backend), a CONTINUATION flood (header block past the limit: the connection
 * is closed long before the flood ends), PING and SETTINGS floods from a client that never reads its
 * acknowledgements (the connection is closed, memory stays bounded). After each case the proxy still
 * serves a fresh session.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { constants } from 'node:http2';
import type { ProxyServer } from '../../src/proxy/proxy-server.js';
import { generateDevCertificate } from '../../src/shared/tls/dev-certificate.js';
import { type TestBackend, startBackend } from '../helpers/data-plane-backends.js';
import { register, startProxy } from '../helpers/data-plane-client.js';
import { Flag, FrameType, type RawH2, flood, frame, headerField, rawH2, requestBlock } from '../helpers/h2-frames.js';
import { h2Connect, h2Request } from '../helpers/h2-client.js';
import { tally, tallyOne, useTally } from '../helpers/hostile-tally.js';

useTally();

const MAX_STREAMS = 20;

let proxy: ProxyServer;
let tlsPort: number;
let ca: string;
let backend: TestBackend;
let inFlight = 0;
let maxInFlight = 0;
/** While true, `/api/hold` requests wait at the backend (counted in `inFlight`) until released. */
let holding = true;
const held: (() => void)[] = [];

beforeAll(async () => {
  backend = await startBackend('h2', (req, res) => {
    req.resume();
    if (req.url === '/api/hold' && holding) {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      held.push(() => {
        inFlight -= 1;
        res.end('released');
      });
      return;
    }
    res.end('ok');
  });
  const pair = await generateDevCertificate();
  ca = pair.cert;
  ({ proxy } = await startProxy({ tls: pair, tlsPort: 0, h2MaxConcurrentStreams: MAX_STREAMS }));
  tlsPort = proxy.addresses.https?.port as number;
  register(proxy, backend, ['/api']);
});

afterAll(async () => {
  for (const release of held.splice(0)) release();
  await proxy.stop();
  await backend.close();
});

async function expectServing(): Promise<void> {
  const session = await h2Connect(tlsPort, ca);
  try {
    const { status } = await h2Request(session, '/api/ok');
    tallyOne(status > 0);
    expect(status).toBe(200);
  } finally {
    session.close();
  }
}

/** Streams (by id) the server answered with a HEADERS frame, or reset with `code`. */
function answeredStreams(connection: RawH2): Set<number> {
  return new Set(connection.frames.filter((f) => f.type === FrameType.HEADERS && f.streamId > 0).map((f) => f.streamId));
}
function resetStreams(connection: RawH2, code: number): Set<number> {
  return new Set(connection.frames.filter((f) => f.type === FrameType.RST_STREAM && f.payload.readUInt32BE(0) === code).map((f) => f.streamId));
}

/**
 * Counts `sent` streams of a flood whose client abandons them on purpose (resets them, or is cut off):
 * answered are those with a response HEADERS frame, the rest refused (never answered by design).
 */
function tallyAbandoned(connection: RawH2, sent: number): void {
  const answered = answeredStreams(connection).size;
  tally({ sent, answered, refused: sent - answered });
}

describe('HTTP/2 limits under abuse', () => {
  it('refuses streams beyond SETTINGS_MAX_CONCURRENT_STREAMS and never lets more reach the backend', async () => {
    const connection = await rawH2(tlsPort, ca);
    const streams = MAX_STREAMS * 3;
    const frames: Buffer[] = [];
    for (let index = 0; index < streams; index += 1) frames.push(frame(FrameType.HEADERS, Flag.END_STREAM | Flag.END_HEADERS, 1 + index * 2, requestBlock('/api/hold', 'localhost')));
    connection.socket.write(Buffer.concat(frames));
    // Every stream past the limit is refused with RST_STREAM(REFUSED_STREAM) (or the session is closed).
    await new Promise<void>((resolve) => {
      const check = (): void => {
        const refused = connection.frames.filter((f) => f.type === FrameType.RST_STREAM && f.payload.readUInt32BE(0) === constants.NGHTTP2_REFUSED_STREAM).length;
        if (refused >= streams - MAX_STREAMS || connection.isClosed() || connection.frames.some((f) => f.type === FrameType.GOAWAY)) resolve();
        else setTimeout(check, 10);
      };
      check();
    });
    expect(maxInFlight).toBeLessThanOrEqual(MAX_STREAMS);
    // The streams the proxy took are answered once the backend lets them go; the refused ones never are.
    const refused = resetStreams(connection, constants.NGHTTP2_REFUSED_STREAM).size;
    holding = false;
    for (const release of held.splice(0)) release();
    await new Promise<void>((resolve) => {
      const check = (): void => (answeredStreams(connection).size + refused >= streams || connection.isClosed() ? resolve() : void setTimeout(check, 10));
      check();
    });
    const answered = answeredStreams(connection).size;
    tally({ sent: streams, answered, refused, lost: streams - answered - refused });
    expect(answered + refused).toBe(streams);
    connection.socket.destroy();
    await expectServing();
  });

  /** HEADERS then RST_STREAM(CANCEL) for stream `index`: never more than one stream open at a time. */
  function openAndCancel(index: number): Buffer {
    const id = 1 + index * 2;
    const cancel = Buffer.alloc(4);
    cancel.writeUInt32BE(constants.NGHTTP2_CANCEL);
    return Buffer.concat([frame(FrameType.HEADERS, Flag.END_STREAM | Flag.END_HEADERS, id, requestBlock('/api/reset', 'localhost')), frame(FrameType.RST_STREAM, 0, id, cancel)]);
  }

  it('closes a session that resets streams as fast as it can send them (rapid reset, CVE-2023-44487)', async () => {
    const before = backend.hits();
    const connection = await rawH2(tlsPort, ca);
    const attempts = 20_000;
    const sent = await flood(connection, attempts, openAndCancel);
    await Promise.race([connection.closed, new Promise((resolve) => setTimeout(resolve, 5000))]);
    // nghttp2's own reset limit (1.57+) or the proxy's bucket ends it, whichever comes first.
    expect(connection.isClosed()).toBe(true);
    expect(sent).toBeLessThan(attempts);
    expect(backend.hits() - before).toBeLessThan(1000);
    tallyAbandoned(connection, sent);
    connection.socket.destroy();
    await expectServing();
  }, 20_000);

  it('closes a paced rapid-reset session that stays under the burst limit of nghttp2 (the reset bucket of the proxy)', async () => {
    const before = backend.hits();
    const connection = await rawH2(tlsPort, ca);
    const attempts = 900;
    // Batches of 50 with a turn of the event loop between them: the proxy's bucket (200, then 50/s) sees each.
    const sent = await flood(connection, attempts, openAndCancel, 50);
    await Promise.race([connection.closed, new Promise((resolve) => setTimeout(resolve, 5000))]);
    expect(connection.isClosed()).toBe(true);
    expect(sent).toBeLessThan(attempts);
    expect(backend.hits() - before).toBeLessThan(500);
    tallyAbandoned(connection, sent);
    expect((await proxy.metrics.exposition()).body).toMatch(/inteli_h2_limit_breaches_total\{reason="rapid_reset"\} [1-9]/);
    connection.socket.destroy();
    await expectServing();
  }, 20_000);

  it('refuses malformed requests: unknown, missing or late pseudo-headers, upper-case names, connection headers', async () => {
    const before = backend.hits();
    const connection = await rawH2(tlsPort, ca);
    const base = requestBlock('/api/malformed', 'localhost');
    const blocks = [
      Buffer.concat([base, headerField(':foo', 'bar')]), // unknown pseudo-header
      Buffer.concat([headerField('x-early', '1'), base]), // pseudo-header after a regular field
      Buffer.from([0x82, 0x87, 0x01, 9, ...Buffer.from('localhost')]), // no :path
      Buffer.concat([base, headerField('X-Upper', '1')]), // upper-case field name
      Buffer.concat([base, headerField('connection', 'keep-alive')]), // connection-specific
      Buffer.concat([base, headerField('te', 'gzip')]), // te other than trailers
    ];
    connection.socket.write(Buffer.concat(blocks.map((block, index) => frame(FrameType.HEADERS, Flag.END_STREAM | Flag.END_HEADERS, 1 + index * 2, block))));
    const refused = (): number => connection.frames.filter((f) => f.type === FrameType.RST_STREAM && f.payload.readUInt32BE(0) === constants.NGHTTP2_PROTOCOL_ERROR).length;
    await new Promise<void>((resolve) => {
      const check = (): void => (refused() >= blocks.length || connection.isClosed() ? resolve() : void setTimeout(check, 10));
      check();
    });
    tally({ sent: blocks.length, answered: answeredStreams(connection).size, refused: refused(), lost: blocks.length - refused() - answeredStreams(connection).size });
    expect(refused()).toBe(blocks.length);
    expect(backend.hits()).toBe(before);
    connection.socket.destroy();
    await expectServing();
  });

  it('closes the connection on a CONTINUATION flood long before it ends', async () => {
    const connection = await rawH2(tlsPort, ca);
    connection.socket.write(frame(FrameType.HEADERS, 0, 1, requestBlock('/api/x', 'localhost')));
    const field = headerField('x-flood', 'a'.repeat(100));
    const payload = Buffer.concat(Array.from({ length: Math.floor(16_000 / field.length) }, () => field));
    // 10,000 CONTINUATION frames of 16 KB: 160 MB if nothing stopped it.
    const sent = await flood(connection, 10_000, () => frame(FrameType.CONTINUATION, 0, 1, payload));
    await Promise.race([connection.closed, new Promise((resolve) => setTimeout(resolve, 5000))]);
    // One request whose header block never ends: cut with the connection, never answered by design.
    tallyAbandoned(connection, 1);
    expect(connection.isClosed()).toBe(true);
    expect(sent).toBeLessThan(10_000);
    connection.socket.destroy();
    await expectServing();
  }, 20_000);

  it.each([
    ['PING', (index: number) => frame(FrameType.PING, 0, 0, Buffer.alloc(8, index & 0xff))],
    ['SETTINGS', () => frame(FrameType.SETTINGS, 0, 0)],
  ])('closes the connection of a %s flood from a client that never reads the acknowledgements', async (_name, make) => {
    const connection = await rawH2(tlsPort, ca, { read: false });
    const total = 2_000_000;
    const sent = await flood(connection, total, make);
    await Promise.race([connection.closed, new Promise((resolve) => setTimeout(resolve, 5000))]);
    expect(connection.isClosed()).toBe(true);
    expect(sent).toBeLessThan(total);
    connection.socket.destroy();
    await expectServing();
  }, 30_000);
});
