/**
 * Listening and closing the user's web server: `listen()` as a promise with a typed error, and a close
 * that lets in-flight requests finish within a bound before the remaining sockets are cut.
 */
import type http from 'node:http';
import type https from 'node:https';
import { ListenError } from '../shared/errors.js';

/**
 * Makes `server` listen on `host:port` and resolves with the bound port.
 *
 * @throws {ListenError} (`RP_ERR_LISTEN`) when the address cannot be bound.
 */
export function listenServer(server: http.Server | https.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      server.removeListener('listening', onListening);
      reject(new ListenError(`the web server cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
    };
    const onListening = (): void => {
      server.removeListener('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * Stops accepting connections, closes idle keep-alive sockets at once, lets in-flight requests finish for
 * up to `graceMs`, then cuts the sockets that remain. Resolves when the server is closed.
 */
export function closeServer(server: http.Server | https.Server, graceMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
