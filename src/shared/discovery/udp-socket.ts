/**
 * Opening and closing the IPv4 UDP sockets of discovery. Binding errors become a {@link ListenError}
 * naming the address; a socket error after binding is logged by the owner and never thrown (a discovery
 * socket must not take the process down). Closing is idempotent.
 */
import dgram from 'node:dgram';
import { ListenError } from '../errors.js';

/** How to bind a discovery socket. */
export interface UdpBindOptions {
  /** Local address (an interface address, a multicast group, or `0.0.0.0`). */
  readonly address: string;
  /** Local port; 0 for an ephemeral one. */
  readonly port: number;
  /** Share the port with other sockets (several receivers on one host). */
  readonly reuseAddr: boolean;
  /** What the socket is, for the error message. */
  readonly purpose: string;
}

/**
 * Binds a UDP socket.
 *
 * @throws {ListenError} when the address cannot be bound.
 */
export function bindUdpSocket(options: UdpBindOptions): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: options.reuseAddr });
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      socket.close();
      reject(new ListenError(`${options.purpose} cannot bind ${options.address}:${options.port}: ${error.message}`, { cause: error }));
    };
    socket.once('error', onError);
    socket.bind(options.port, options.address, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** Closes a socket; resolves at once when it is already closed. */
export function closeUdpSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      // ERR_SOCKET_DGRAM_NOT_RUNNING: already closed.
      resolve();
    }
  });
}
