/**
 * Upgrade tunnelling (WebSocket or any other `Upgrade`): the upgrade request is sent to the selected
 * upstream on a fresh connection; a `101` answer is relayed and the two sockets are piped into each other
 * until either side closes or fails, which destroys both. Any other answer is relayed with
 * `Connection: close` and the client socket is closed after it. A tunnel counts as in flight on its
 * upstream, so draining a backend waits for its tunnels too.
 */
import { type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../shared/logger.js';
import { writeSocketError } from './error-response.js';
import type { RequestHead } from './forward-headers.js';
import { statusError } from './status-error.js';
import type { Upstream } from './upstream.js';

/** Settings of {@link WebSocketTunnels}. */
export interface TunnelOptions {
  readonly connectTimeoutMs: number;
  /** Time to wait for the upstream's answer to the upgrade request. */
  readonly responseTimeoutMs: number;
  readonly upstreamRejectUnauthorized: boolean;
  readonly upstreamCa: string | Buffer | undefined;
  /** Most open tunnels per target origin; a further upgrade gets 503 `TUNNEL_LIMIT`. */
  readonly maxPerTarget: number;
  /** Called when an upgrade is refused for the limit (a counter). Must not throw. */
  readonly onLimit?: (() => void) | undefined;
  readonly logger: Logger;
}

/** Response headers that describe the upstream connection, not the relayed answer. */
const NON_101_DROPPED: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'trailer']);

function statusLine(res: IncomingMessage): string {
  return `HTTP/1.1 ${res.statusCode ?? 502} ${res.statusMessage ?? ''}\r\n`;
}

/** One tunnel: the client socket, the upstream request and, after the 101, the upstream socket. */
class Tunnel {
  readonly #owner: WebSocketTunnels;
  readonly #client: Duplex;
  readonly #upstream: Upstream;
  readonly #requestId: string;
  #request: ClientRequest | undefined;
  #upstreamSocket: Duplex | undefined;
  #closed = false;

  constructor(owner: WebSocketTunnels, client: Duplex, upstream: Upstream, requestId: string) {
    this.#owner = owner;
    this.#client = client;
    this.#upstream = upstream;
    this.#requestId = requestId;
  }

  open(req: IncomingMessage, head: Buffer, target: string, requestHead: RequestHead, options: TunnelOptions): void {
    const client = this.#client;
    const upstream = this.#upstream;
    upstream.acquire();
    client.on('error', (error: Error) => this.#close(error));
    client.on('close', () => this.#close());
    const { host, port, protocol } = upstream.target;
    const request = (protocol === 'https' ? httpsRequest : httpRequest)({
      host,
      port,
      method: req.method,
      path: target,
      headers: requestHead.headers,
      agent: false,
      timeout: options.connectTimeoutMs,
      ...(protocol === 'https' ? { rejectUnauthorized: options.upstreamRejectUnauthorized, ca: options.upstreamCa } : {}),
    });
    this.#request = request;
    let connected = false;
    request.on('socket', (socket: Socket) => {
      socket.setNoDelay(true);
      socket.once('connect', () => {
        connected = true;
        // From here on the timeout bounds the wait for the answer, not the connection.
        request.setTimeout(options.responseTimeoutMs);
      });
      socket.once('secureConnect', () => {
        connected = true;
      });
    });
    request.on('timeout', () => {
      const code = connected ? 'UND_ERR_HEADERS_TIMEOUT' : 'UND_ERR_CONNECT_TIMEOUT';
      request.destroy(Object.assign(new Error(`upgrade ${connected ? 'answer' : 'connection'} timed out`), { code }));
    });
    request.on('error', (error: Error) => this.#fail(error, connected));
    request.on('upgrade', (res: IncomingMessage, socket: Duplex, upstreamHead: Buffer) => this.#relay101(res, socket, upstreamHead, head));
    request.on('response', (res: IncomingMessage) => this.#relayAnswer(res));
    request.end();
  }

  /** Destroys both sides. */
  destroy(): void {
    this.#close();
  }

  #relay101(res: IncomingMessage, socket: Duplex, upstreamHead: Buffer, clientHead: Buffer): void {
    const client = this.#client;
    this.#upstreamSocket = socket;
    this.#upstream.succeeded();
    socket.on('error', (error: Error) => this.#close(error));
    socket.on('close', () => this.#close());
    if (this.#closed) return;
    (socket as Socket).setTimeout?.(0);
    let head = statusLine(res);
    const raw = res.rawHeaders;
    for (let index = 0; index < raw.length; index += 2) head += `${raw[index]}: ${raw[index + 1]}\r\n`;
    client.write(`${head}\r\n`, 'latin1');
    if (upstreamHead.length > 0) client.write(upstreamHead);
    if (clientHead.length > 0) socket.write(clientHead);
    socket.pipe(client);
    client.pipe(socket);
  }

  #relayAnswer(res: IncomingMessage): void {
    const client = this.#client;
    this.#upstream.succeeded();
    let head = statusLine(res);
    const raw = res.rawHeaders;
    for (let index = 0; index < raw.length; index += 2) {
      if (!NON_101_DROPPED.has((raw[index] as string).toLowerCase())) head += `${raw[index]}: ${raw[index + 1]}\r\n`;
    }
    client.write(`${head}connection: close\r\n\r\n`, 'latin1');
    res.on('error', (error: Error) => this.#close(error));
    res.on('end', () => {
      // Let the answer flush before the socket goes; destroying at once could cut it short.
      client.end(() => client.destroy());
      this.#request?.destroy();
      this.#finish();
    });
    res.pipe(client, { end: false });
  }

  #fail(error: Error, connected: boolean): void {
    if (this.#closed) return;
    if (this.#upstreamSocket !== undefined) {
      this.#close(error);
      return;
    }
    const failure = statusError(error, connected);
    if (failure.code === 'RP_ERR_UPSTREAM_CONNECT') this.#upstream.connectFailed(failure.message);
    else this.#upstream.failed(failure.message);
    this.#owner.logger.warn({ code: failure.code, upstream: this.#upstream.origin, requestId: this.#requestId, err: failure.message }, 'upgrade failed');
    writeSocketError(this.#client, failure.statusCode ?? 502, failure.code, this.#requestId);
    this.#finish();
  }

  #close(error?: Error): void {
    if (this.#closed) return;
    if (error !== undefined) this.#owner.logger.debug({ upstream: this.#upstream.origin, err: error.message }, 'tunnel closed on error');
    this.#request?.destroy();
    this.#upstreamSocket?.destroy();
    this.#client.destroy();
    this.#finish();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#upstream.release();
    this.#owner.forget(this, this.#upstream.origin);
  }
}

/** The open tunnels of a data plane. */
export class WebSocketTunnels {
  readonly logger: Logger;
  #options: TunnelOptions;
  readonly #open = new Set<Tunnel>();
  /** Open tunnels per target origin, for {@link TunnelOptions.maxPerTarget}; an origin at 0 is deleted. */
  readonly #perTarget = new Map<string, number>();

  constructor(options: TunnelOptions) {
    this.#options = options;
    this.logger = options.logger;
  }

  /** Applies new timeouts to tunnels opened from now on. */
  setTimeouts(timeouts: Pick<TunnelOptions, 'connectTimeoutMs' | 'responseTimeoutMs'>): void {
    this.#options = { ...this.#options, connectTimeoutMs: timeouts.connectTimeoutMs, responseTimeoutMs: timeouts.responseTimeoutMs };
  }

  /** Number of open tunnels (and upgrade requests waiting for their answer). */
  get size(): number {
    return this.#open.size;
  }

  /** Open tunnels to one target origin. */
  openTo(origin: string): number {
    return this.#perTarget.get(origin) ?? 0;
  }

  /**
   * Starts tunnelling `client` to `upstream`, or answers 503 `TUNNEL_LIMIT` when the target already has
   * `maxPerTarget` tunnels: each one holds two file descriptors for as long as it lives, so one target
   * (or a loop through one) must not be able to take them all. Never throws.
   */
  open(req: IncomingMessage, client: Duplex, head: Buffer, upstream: Upstream, target: string, requestHead: RequestHead): void {
    const count = this.#perTarget.get(upstream.origin) ?? 0;
    if (count >= this.#options.maxPerTarget) {
      this.#options.onLimit?.();
      this.logger.warn({ upstream: upstream.origin, limit: this.#options.maxPerTarget, requestId: requestHead.requestId }, 'upgrade refused: tunnels per target exceeded');
      writeSocketError(client, 503, 'RP_ERR_TUNNEL_LIMIT', requestHead.requestId);
      return;
    }
    this.#perTarget.set(upstream.origin, count + 1);
    const tunnel = new Tunnel(this, client, upstream, requestHead.requestId);
    this.#open.add(tunnel);
    try {
      tunnel.open(req, head, target, requestHead, this.#options);
    } catch (error) {
      this.logger.warn({ upstream: upstream.origin, err: (error as Error).message }, 'upgrade could not be sent');
      tunnel.destroy();
    }
  }

  /** Called by a tunnel when it is closed. */
  forget(tunnel: Tunnel, origin: string): void {
    if (!this.#open.delete(tunnel)) return;
    const count = (this.#perTarget.get(origin) ?? 1) - 1;
    if (count <= 0) this.#perTarget.delete(origin);
    else this.#perTarget.set(origin, count);
  }

  /** Destroys every tunnel (at the end of a graceful stop). */
  destroyAll(): void {
    for (const tunnel of [...this.#open]) tunnel.destroy();
  }
}
