/** Binding a server, with bind failures turned into coded errors that name the address. */
import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ListenError } from '../../shared/errors.js';

/**
 * Listens on `host:port` and resolves with the bound address (port 0 picks a free port).
 *
 * @throws {ListenError} (`RP_ERR_LISTEN`) naming `host:port` and the reason (address in use, permission).
 */
export function listen(server: Server, port: number, host: string, label: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      const reason = error.code === 'EADDRINUSE' ? 'address already in use' : error.code === 'EACCES' ? 'permission denied' : error.message;
      reject(new ListenError(`${label} listener could not bind ${host}:${port}: ${reason}`, { cause: error }));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Closes a server that may or may not be listening; resolves when every connection is gone. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}
