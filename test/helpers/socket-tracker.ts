/**
 * Keeps the open sockets of a test server, so that closing it does not wait for kept-alive or stalled
 * connections (`server.close()` alone waits for every socket to end), and counts the ones that closed.
 */
import type { Server, Socket } from 'node:net';

/**
 * Tracks `server`'s connections (call before it listens); `onClosed` runs once per closed socket. The
 * returned function destroys the open sockets and resolves once the server closed.
 */
export function trackSockets(server: Server, onClosed: () => void): () => Promise<void> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      onClosed();
    });
  });
  return () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
}
