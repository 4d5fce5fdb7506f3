/**
 * A free loopback TCP port for peers (nginx, HAProxy) that cannot listen on port 0 and report back. The
 * port is released before the peer binds it; the window is short and a collision only fails that peer's
 * start, which the bench reports as a skipped row.
 */
import { createServer } from 'node:net';

/** Resolves to a TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
