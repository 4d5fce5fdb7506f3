/**
 * Holds many keep-alive HTTP/1.1 connections to one server (the `clients` scenario): opens them in
 * batches (so the listen backlog never overflows), sends one GET on each and keeps it open and idle.
 * On `active` it sends one more GET on every open connection at once and answers when all responses
 * arrived. A tiny response reader is enough: the bench backends answer with a Content-Length body.
 */
import { connect, type Socket } from 'node:net';
import { childArgs, runChild, sendToParent } from '../lib/child-runtime.js';

/** Arguments from the parent. */
export interface HoldArgs {
  readonly port: number;
  readonly connections: number;
}

/** What `held` and `active-done` report. */
export interface HoldReport {
  /** Connections open now. */
  readonly open: number;
  /** Connections that failed or closed. */
  readonly failed: number;
  /** Milliseconds the step took. */
  readonly ms: number;
}

/** Connections opened concurrently per batch. */
const BATCH = 250;
const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: bench\r\n\r\n');

class HeldConnection {
  readonly socket: Socket;
  #buffer = '';
  #waiting: (() => void) | undefined;

  constructor(port: number, onClose: () => void) {
    this.socket = connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.setEncoding('latin1');
    this.socket.on('data', (chunk: string) => this.#onData(chunk));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.#waiting?.();
      onClose();
    });
  }

  /** Sends one request; resolves with whether a whole response came back. */
  request(): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) {
        resolve(false);
        return;
      }
      this.#waiting = () => {
        this.#waiting = undefined;
        resolve(!this.socket.destroyed);
      };
      this.socket.write(REQUEST);
    });
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    const end = this.#buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const length = /content-length:\s*(\d+)/i.exec(this.#buffer.slice(0, end));
    const bodyLength = length === null ? 0 : Number(length[1]);
    if (this.#buffer.length < end + 4 + bodyLength) return;
    this.#buffer = this.#buffer.slice(end + 4 + bodyLength);
    this.#waiting?.();
  }
}

runChild<null>(async () => {
  const { port, connections } = childArgs<HoldArgs>();
  const held: HeldConnection[] = [];
  let closed = 0;
  const report = (startedAt: number): HoldReport => ({ open: held.length - closed, failed: closed, ms: performance.now() - startedAt });
  const openAll = async (): Promise<void> => {
    const startedAt = performance.now();
    for (let i = 0; i < connections; i += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, connections - i) }, () => new HeldConnection(port, () => (closed += 1)));
      held.push(...batch);
      await Promise.all(batch.map((connection) => connection.request()));
    }
    sendToParent('held', report(startedAt));
  };
  const activeAll = async (): Promise<void> => {
    const startedAt = performance.now();
    await Promise.all(held.filter((connection) => !connection.socket.destroyed).map((connection) => connection.request()));
    sendToParent('active-done', report(startedAt));
  };
  process.on('message', (message: unknown) => {
    const type = (message as { type?: unknown } | null)?.type;
    if (type === 'open') void openAll();
    else if (type === 'active') void activeAll();
    else if (type === 'count') sendToParent('count', report(performance.now()));
  });
  return {
    ready: null,
    stop: async () => {
      for (const connection of held) connection.socket.destroy();
    },
  };
});
