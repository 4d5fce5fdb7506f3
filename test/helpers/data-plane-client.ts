/**
 * A small HTTP client for the data-plane tests: one request per connection (`agent: false`), so no
 * keep-alive socket outlives a test, with the status, headers and body collected.
 */
import { type IncomingHttpHeaders, type OutgoingHttpHeaders, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ProxyServerOptions } from '../../src/proxy/proxy-options.js';
import { ProxyServer } from '../../src/proxy/proxy-server.js';
import type { Backend } from '../../src/proxy/registry/backend.js';
import type { TestBackend } from './data-plane-backends.js';

/** A collected response. */
export interface TestResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Options of {@link send}. */
export interface SendOptions {
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders | string[];
  readonly body?: string;
  readonly https?: boolean;
  readonly ca?: string;
}

/** Sends one request to 127.0.0.1:`port` and collects the answer. */
export function send(port: number, path: string, options: SendOptions = {}): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const make = options.https === true ? httpsRequest : httpRequest;
    const req = make(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false, ca: options.ca, servername: 'localhost' },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Sends a request and returns the `name` field of the JSON answer (which backend answered). */
export async function whoAnswers(port: number, path: string): Promise<string> {
  const response = await send(port, path);
  if (response.status !== 200) throw new Error(`expected 200 from ${path}, got ${response.status}: ${response.body}`);
  return (JSON.parse(response.body) as { name: string }).name;
}

/** Starts a proxy on 127.0.0.1 port 0 with test-friendly options. */
export async function startProxy(options: ProxyServerOptions = {}): Promise<{ proxy: ProxyServer; port: number }> {
  const proxy = new ProxyServer({ host: '127.0.0.1', port: 0, shutdownTimeoutMs: 2_000, control: false, ...options });
  const addresses = await proxy.start();
  return { proxy, port: addresses.http?.port ?? 0 };
}

/** Registers a backend's port under the given rule paths. */
export function register(proxy: ProxyServer, backend: TestBackend, paths: readonly string[] = ['/api'], weight?: number): Backend {
  return proxy.registry.add({
    agentId: backend.name,
    targets: [{ protocol: 'http', host: '127.0.0.1', port: backend.port }],
    rules: paths.map((path) => ({ path })),
    weight,
  });
}
