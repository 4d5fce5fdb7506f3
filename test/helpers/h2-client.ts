/** A small HTTP/2 client for the data-plane tests: one request on a given session, answer collected. */
import { type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders, connect } from 'node:http2';

/** A collected HTTP/2 answer. */
export interface H2Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Opens a session to the proxy's HTTPS port (SNI `localhost`, trusting `ca`). */
export async function h2Connect(port: number, ca: string): Promise<ClientHttp2Session> {
  const session = connect(`https://localhost:${port}`, { ca, servername: 'localhost', host: '127.0.0.1' } as never);
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  session.on('error', () => undefined);
  return session;
}

/** Sends one request on `session` and collects the answer. */
export function h2Request(session: ClientHttp2Session, path: string, options: { method?: string; headers?: OutgoingHttpHeaders; body?: string | Buffer } = {}): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': options.method ?? 'GET', ':path': path, ...options.headers });
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (received) => (headers = received));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks).toString('utf8') }));
    stream.on('error', reject);
    stream.end(options.body);
  });
}
