/**
 * Test backends for the data-plane tests: real HTTP servers on 127.0.0.1 port 0 that count their hits,
 * remember what they received and close every socket on `close()`.
 */
import { type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trackSockets } from './socket-tracker.js';

/** What a backend saw of one request. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
}

/** A running test backend. */
export interface TestBackend {
  readonly name: string;
  readonly port: number;
  readonly server: Server;
  /** Requests received so far. */
  readonly seen: SeenRequest[];
  /** Sockets that closed so far. */
  socketsClosed: number;
  hits(): number;
  close(): Promise<void>;
}

/** A handler; the default answers `200` with `{ name, url }` as JSON. */
export type BackendHandler = (req: IncomingMessage, res: ServerResponse, backend: TestBackend) => void;

function defaultHandler(req: IncomingMessage, res: ServerResponse, backend: TestBackend): void {
  req.resume();
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ name: backend.name, url: req.url }));
  });
}

/** Starts a backend on 127.0.0.1 port 0. */
export async function startBackend(name: string, handler: BackendHandler = defaultHandler): Promise<TestBackend> {
  const seen: SeenRequest[] = [];
  const server = createServer();
  const closeServer = trackSockets(server, () => (backend.socketsClosed += 1));
  const backend: TestBackend = {
    name,
    port: 0,
    server,
    seen,
    socketsClosed: 0,
    hits: () => seen.length,
    close: closeServer,
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
    handler(req, res, backend);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (backend as { port: number }).port = (server.address() as AddressInfo).port;
  return backend;
}

/** A port on 127.0.0.1 that nothing listens on (bound once, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
