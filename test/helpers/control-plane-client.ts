/**
 * A tiny hand-driven control-plane client for tests: dials with a bearer token and the sub-protocol,
 * sends frames, waits for replies by request id, and records the close code. Everything waits on
 * events with a timeout guard, never on sleeps.
 */
import WebSocket from 'ws';
import { SUBPROTOCOL } from '../../src/shared/protocol.js';

/** A frame received from the proxy. */
export type Frame = { type: string; id?: string; code?: string; message?: string; result?: unknown; [key: string]: unknown };

/** Options of {@link dial}. */
export interface DialOptions {
  /** Bearer token; omitted when undefined. */
  token?: string | undefined;
  /** Sub-protocols to offer. Default `['inteli.v2']`. */
  protocols?: string[];
  /** CA certificate (PEM) that signed the proxy certificate. */
  ca?: string | undefined;
  /** Answer pings automatically. Default true (false simulates a frozen agent). */
  autoPong?: boolean;
  /** Extra headers. */
  headers?: Record<string, string>;
  /** Largest frame accepted from the proxy. */
  maxPayload?: number;
}

/** Rejects after `ms` with a message naming what was awaited. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A connected test client. */
export class ControlClient {
  readonly ws: WebSocket;
  /** Every frame received, in order. */
  readonly frames: Frame[] = [];
  /** Resolves with the close code and reason once the connection closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: Array<{ match: (frame: Frame) => boolean; resolve: (frame: Frame) => void }> = [];
  #nextId = 0;

  constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on('error', () => undefined);
    ws.on('message', (data) => {
      let frame: Frame;
      try {
        frame = JSON.parse(data.toString()) as Frame;
      } catch {
        return;
      }
      this.frames.push(frame);
      for (const waiter of [...this.#waiters]) {
        if (waiter.match(frame)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(frame);
        }
      }
    });
  }

  /** Sends a raw string or object (objects are JSON-encoded as given). */
  sendRaw(frame: unknown): void {
    this.ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  /** Sends a request with a fresh id and resolves with its `ack` or `error` reply. */
  request(frame: Record<string, unknown>, timeoutMs = 5000): Promise<Frame> {
    this.#nextId += 1;
    const id = `r${this.#nextId}`;
    const reply = this.waitFor((received) => received.id === id && (received.type === 'ack' || received.type === 'error'), timeoutMs, `reply to ${String(frame.type)}`);
    this.sendRaw({ ...frame, id });
    return reply;
  }

  /** Resolves with the first frame (already received or future) that matches. */
  waitFor(match: (frame: Frame) => boolean, timeoutMs = 5000, what = 'a frame'): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return withTimeout(
      new Promise<Frame>((resolve) => {
        this.#waiters.push({ match, resolve });
      }),
      timeoutMs,
      what,
    );
  }

  /** Resolves with the close code (guarded by a timeout). */
  closeCode(timeoutMs = 5000): Promise<number> {
    return withTimeout(this.closed, timeoutMs, 'close').then(({ code }) => code);
  }

  /** Closes (if open) and waits for the close. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    await withTimeout(this.closed, 5000, 'client close').catch(() => this.ws.terminate());
  }
}

/** Outcome of a dial: a connected client, or the HTTP status of the refusal. */
export type DialOutcome = { ok: true; client: ControlClient } | { ok: false; status: number; body: string };

/** Dials the control plane and reports either the open connection or the refusal status. */
export function tryDial(url: string, options: DialOptions = {}): Promise<DialOutcome> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const ws = new WebSocket(url, options.protocols ?? [SUBPROTOCOL], {
    headers,
    ca: options.ca,
    autoPong: options.autoPong ?? true,
    maxPayload: options.maxPayload ?? 1024 * 1024,
    handshakeTimeout: 5000,
  });
  const client = new ControlClient(ws);
  return withTimeout(
    new Promise<DialOutcome>((resolve, reject) => {
      ws.once('open', () => resolve({ ok: true, client }));
      ws.once('unexpected-response', (_request, response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        const done = (): void => resolve({ ok: false, status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() });
        response.on('end', done);
        response.on('error', done);
        response.on('close', done);
      });
      ws.once('error', (error) => reject(error));
    }),
    6000,
    `dial ${url}`,
  );
}

/** Dials and expects success. */
export async function dial(url: string, options: DialOptions = {}): Promise<ControlClient> {
  const outcome = await tryDial(url, options);
  if (!outcome.ok) throw new Error(`dial refused with ${outcome.status}: ${outcome.body}`);
  return outcome.client;
}
