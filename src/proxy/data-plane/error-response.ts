/**
 * Answers the proxy writes itself (no route, no target, bad request, shutting down, upstream failures).
 * Bodies are small JSON documents, `{"error":"NO_ROUTE","message":"..."}`, serialised once per code.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_CATALOG, type ErrorCode } from '../../shared/errors.js';

/** The precomputed parts of one answer. */
interface PreparedBody {
  readonly body: Buffer;
  readonly length: string;
}

/** Messages of the answers; the `error` field is the code without its `RP_ERR_` prefix. */
const MESSAGES: Partial<Record<ErrorCode, string>> = {
  RP_ERR_NO_ROUTE: 'no route matches this request',
  RP_ERR_NO_TARGET: 'no target is available for this route',
  RP_ERR_BAD_REQUEST: 'the request is malformed',
  RP_ERR_SHUTTING_DOWN: 'the proxy is shutting down',
  RP_ERR_UPSTREAM_CONNECT: 'the upstream could not be reached',
  RP_ERR_UPSTREAM_TIMEOUT: 'the upstream did not answer in time',
  RP_ERR_UPSTREAM_RESPONSE: 'the upstream sent an invalid response',
  RP_ERR_LOOP_DETECTED: 'the request already passed through this proxy (a forwarding loop)',
  RP_ERR_TUNNEL_LIMIT: 'the target has too many open tunnels',
};

const prepared = new Map<ErrorCode, PreparedBody>();

function prepare(code: ErrorCode): PreparedBody {
  let entry = prepared.get(code);
  if (entry === undefined) {
    const message = MESSAGES[code] ?? ERROR_CATALOG[code].summary;
    const body = Buffer.from(JSON.stringify({ error: code.replace(/^RP_ERR_/, ''), message }));
    entry = { body, length: String(body.length) };
    prepared.set(code, entry);
  }
  return entry;
}

/**
 * Writes an error answer unless headers were already sent, in which case the connection is destroyed so
 * the client sees a failure rather than a clean, truncated response.
 *
 * @param close send `Connection: close` and end the connection after the answer.
 */
export function sendError(res: ServerResponse, status: number, code: ErrorCode, requestId: string | undefined, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (res.destroyed || res.writableEnded) return;
  const { body, length } = prepare(code);
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': length,
    'cache-control': 'no-store',
  };
  if (requestId !== undefined) headers['x-request-id'] = requestId;
  if (close) {
    headers.connection = 'close';
    res.shouldKeepAlive = false;
  }
  res.writeHead(status, headers);
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * Writes an error answer on a raw socket (an upgrade request has no `ServerResponse`) and ends it.
 */
export function writeSocketError(socket: Duplex, status: number, code: ErrorCode, requestId: string | undefined): void {
  if (socket.destroyed) return;
  const { body, length } = prepare(code);
  const id = requestId === undefined ? '' : `x-request-id: ${requestId}\r\n`;
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${length}\r\ncache-control: no-store\r\n${id}connection: close\r\n\r\n`;
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]), () => socket.destroy());
}
