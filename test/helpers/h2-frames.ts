/**
 * Raw HTTP/2 frames (RFC 9113 section 4) for the hostile tests: what a well-behaved client library would
 * never send. A TLS connection with ALPN `h2`, the client preface, and frames written and parsed by hand.
 */
import { type TLSSocket, connect } from 'node:tls';

/** Frame types used here. */
export const FrameType = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, CONTINUATION: 9 } as const;
/** Flags used here. */
export const Flag = { END_STREAM: 0x1, END_HEADERS: 0x4 } as const;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** One frame. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

/** An HPACK string literal (no Huffman) with a 7-bit length prefix (lengths below 127 only). */
function literal(value: string): Buffer {
  const bytes = Buffer.from(value, 'latin1');
  if (bytes.length >= 127) throw new Error('literal too long for this helper');
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/** A header block for `GET <path>` at `authority` (static-table pseudo-headers, literals not indexed). */
export function requestBlock(path: string, authority: string): Buffer {
  // 0x82 :method GET, 0x87 :scheme https; 0x04/0x01: literal without indexing, name from static index 4/1.
  return Buffer.concat([Buffer.from([0x82, 0x87, 0x04]), literal(path), Buffer.from([0x01]), literal(authority)]);
}

/** A header field `name: value` as a literal without indexing and a new name. */
export function headerField(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00]), literal(name), literal(value)]);
}

/** A parsed frame header. */
export interface FrameHeader {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/** A raw h2 connection: the frames received so far, and whether the server closed it. */
export interface RawH2 {
  readonly socket: TLSSocket;
  readonly frames: FrameHeader[];
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

/** Connects with ALPN h2, sends the preface and an empty SETTINGS frame, and parses what comes back. */
export function rawH2(port: number, ca: string, options: { read?: boolean } = {}): Promise<RawH2> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', servername: 'localhost', ca, ALPNProtocols: ['h2'] }, () => {
      if (socket.alpnProtocol !== 'h2') {
        reject(new Error(`ALPN gave ${String(socket.alpnProtocol)}`));
        return;
      }
      socket.write(Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0)]));
      resolve(connection);
    });
    const frames: FrameHeader[] = [];
    let buffered = Buffer.alloc(0);
    let closed = false;
    const connection: RawH2 = {
      socket,
      frames,
      closed: new Promise((done) => socket.once('close', () => done())),
      isClosed: () => closed,
    };
    socket.once('close', () => (closed = true));
    socket.on('error', () => undefined);
    if (options.read === false) socket.pause();
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        frames.push({ type: buffered.readUInt8(3), flags: buffered.readUInt8(4), streamId: buffered.readUInt32BE(5) & 0x7fffffff, payload: buffered.subarray(9, 9 + length) });
        buffered = buffered.subarray(9 + length);
      }
    });
    socket.once('error', reject);
  });
}

/**
 * Writes `make(i)` for i = 0.. in batches until `count` are written or the server closed; returns how
 * many were written. Between batches it waits for `drain` when the socket is full, and with `paced` set
 * also for a turn of the event loop (so the server handles each batch before the next).
 */
export async function flood(connection: RawH2, count: number, make: (index: number) => Buffer, batchSize = 256, paced = batchSize !== 256): Promise<number> {
  const { socket } = connection;
  let index = 0;
  while (index < count && !connection.isClosed() && !socket.destroyed) {
    const batch: Buffer[] = [];
    for (let end = Math.min(count, index + batchSize); index < end; index += 1) batch.push(make(index));
    if (!socket.write(Buffer.concat(batch))) {
      await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), connection.closed]);
    }
    if (paced) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return index;
}
