/**
 * WebSocket echo load: N connections, each sends a small message and sends the next one as soon as the echo
 * arrives (closed loop), for a fixed time. Reports round trips per second.
 */
import { WebSocket } from 'ws';
import { childArgs, runChild, sendToParent } from '../lib/child-runtime.js';

/** Arguments from the parent. */
export interface WsEchoArgs {
  readonly url: string;
  readonly connections: number;
  readonly durationSeconds: number;
}

/** What the child reports. */
export interface WsEchoResult {
  /** Echoed messages per second over all connections. */
  readonly messagesPerSecond: number;
  /** Connections that failed to open or errored. */
  readonly errors: number;
}

const PAYLOAD = Buffer.alloc(64, 'x');

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

runChild<null>(async () => {
  const { url, connections, durationSeconds } = childArgs<WsEchoArgs>();
  const sockets = await Promise.all(Array.from({ length: connections }, () => open(url)));
  let count = 0;
  let errors = 0;
  let running = true;
  for (const socket of sockets) {
    socket.on('message', () => {
      if (!running) return;
      count += 1;
      socket.send(PAYLOAD);
    });
    socket.on('error', () => {
      errors += 1;
    });
  }
  setImmediate(() => {
    const startedAt = process.hrtime.bigint();
    for (const socket of sockets) socket.send(PAYLOAD);
    setTimeout(() => {
      running = false;
      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      const result: WsEchoResult = { messagesPerSecond: count / seconds, errors };
      for (const socket of sockets) socket.terminate();
      sendToParent('result', result);
    }, durationSeconds * 1000);
  });
  return { ready: null, stop: async () => undefined };
});
