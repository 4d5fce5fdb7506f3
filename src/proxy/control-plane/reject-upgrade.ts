/**
 * Refuses an HTTP upgrade on the raw socket: a status line, `Connection: close`, a short plain-text
 * body, then the socket is destroyed once the answer is flushed. Used before `handleUpgrade`, so a
 * refused client never gets a WebSocket (STYLE 9).
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Writes `HTTP/1.1 <status>` with `body` and closes the socket. `headers` are added as given (never put
 * a credential in them). Safe on a socket that is already closed.
 */
export function rejectUpgrade(socket: Duplex, status: number, body: string, headers: Readonly<Record<string, string>> = {}): void {
  if (socket.destroyed) return;
  const text = `${body}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(text)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n${text}`);
}
