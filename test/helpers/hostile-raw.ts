/**
 * Raw-socket tools of the hostile suite: send exact bytes and read what comes back until the peer closes
 * (or a guard timer fires), parse the status line, and check that a proxy still serves a live route.
 * Every request sent through here is counted in the tally.
 */
import { connect, type Socket } from 'node:net';
import { send, type SendOptions, type TestResponse } from './data-plane-client.js';
import { tallyOne } from './hostile-tally.js';

/** What a raw exchange returned. */
export interface RawReply {
  /** Everything received, as latin1 text. */
  readonly text: string;
  /** Status of the first response line, or 0 when none arrived. */
  readonly status: number;
  /** True when the peer closed (or reset) the connection before the guard fired. */
  readonly closedByPeer: boolean;
  /** Milliseconds from the first byte written until the close. */
  readonly ms: number;
}

/** Status code of the first `HTTP/1.x NNN` line of `text`, or 0. */
export function firstStatus(text: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return match === null ? 0 : Number(match[1]);
}

/** Opens a TCP connection to 127.0.0.1:`port`. */
export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Collects what `socket` receives until it closes, or until `guardMs` (then destroys it). */
export function readUntilClose(socket: Socket, guardMs: number, started = performance.now()): Promise<RawReply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let closedByPeer = false;
    const timer = setTimeout(() => socket.destroy(), guardMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {
      closedByPeer = true;
    });
    socket.on('end', () => {
      closedByPeer = true;
      socket.end();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ text, status: firstStatus(text), closedByPeer, ms: performance.now() - started });
    });
  });
}

/**
 * Writes `bytes` on a fresh connection and collects the reply until the peer closes or `guardMs` passes.
 * Counts one request; it is answered when a status line came back.
 */
export async function rawExchange(port: number, bytes: string | Buffer, guardMs = 3000): Promise<RawReply> {
  const socket = await openSocket(port);
  const reply = readUntilClose(socket, guardMs);
  socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  const result = await reply;
  tallyOne(result.status > 0);
  return result;
}

/** {@link send}, counted in the tally: answered when a complete response came back, lost otherwise. */
export async function countedSend(port: number, path: string, options: SendOptions = {}): Promise<TestResponse> {
  let status = 0;
  try {
    const response = await send(port, path, options);
    status = response.status;
    return response;
  } finally {
    tallyOne(status > 0);
  }
}

/** Sends `GET path` through the proxy and expects a 200 (the proxy is alive and serving). */
export async function expectServing(port: number, path = '/api/health'): Promise<void> {
  const { status } = await countedSend(port, path);
  if (status !== 200) throw new Error(`health request ${path} got ${status}, expected 200`);
}
