/**
 * The WebSocket class the control plane's ws server instantiates. ws closes a connection whose frame is
 * above `maxPayload` with 1009 (message too big); the protocol promises one close code, 4008, for every
 * limit, so that code is mapped here, the one place ws calls `close()` on its own.
 */
import WebSocket from 'ws';
import { CloseCode } from '../../shared/protocol.js';

/** ws's close code for a frame above `maxPayload`. */
const MESSAGE_TOO_BIG = 1009;

/** A server-side control connection. */
export class ControlSocket extends WebSocket {
  override close(code?: number, data?: string | Buffer): void {
    if (code === MESSAGE_TOO_BIG) super.close(CloseCode.LIMIT_EXCEEDED, 'frame too large');
    else super.close(code, data);
  }
}
