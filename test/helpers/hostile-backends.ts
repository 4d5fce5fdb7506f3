/**
 * Scripted backends of the hostile suite: a raw TCP server whose script gets each connection once the
 * request head arrived (so it can answer with exact bytes, stall or reset), and counts of what it saw.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { trackSockets } from './socket-tracker.js';

/** What a scripted backend does with one connection once the request head (`head`) arrived. */
export type Script = (socket: Socket, head: string) => void;

/** A running scripted backend. */
export interface ScriptedBackend {
  readonly port: number;
  /** Request heads received. */
  readonly heads: string[];
  /** Connections closed so far. */
  closedSockets: number;
  /** Replaces the script. */
  script: Script;
  close(): Promise<void>;
}

/** Starts a raw backend on 127.0.0.1 port 0. */
export async function startScriptedBackend(script: Script): Promise<ScriptedBackend> {
  const server: Server = createServer();
  const closeServer = trackSockets(server, () => (backend.closedSockets += 1));
  const backend: ScriptedBackend = {
    port: 0,
    heads: [],
    closedSockets: 0,
    script,
    close: closeServer,
  };
  server.on('connection', (socket: Socket) => {
    socket.on('error', () => undefined);
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const head = buffered.slice(0, end);
      backend.heads.push(head);
      backend.script(socket, head);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (backend as { port: number }).port = (server.address() as AddressInfo).port;
  return backend;
}
