/**
 * Helpers of the admin tests: GET against the admin listener (one connection per request) and a parser
 * of the Prometheus text format good enough to read one sample by name and labels.
 */
import { send, type TestResponse } from '../../helpers/data-plane-client.js';
import type { ProxyServer } from '../../../src/proxy/proxy-server.js';

/** Port of the proxy's admin listener (throws when it is not running). */
export function adminPort(proxy: ProxyServer): number {
  const port = proxy.addresses.admin?.port;
  if (port === undefined) throw new Error('the admin listener is not running');
  return port;
}

/** GET on the admin listener, with an optional bearer token. */
export function adminGet(proxy: ProxyServer, path: string, token?: string): Promise<TestResponse> {
  return send(adminPort(proxy), path, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
}

/** Scrapes `/metrics` and returns the exposition text. */
export async function scrape(proxy: ProxyServer, token?: string): Promise<string> {
  const response = await adminGet(proxy, '/metrics', token);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}: ${response.body}`);
  return response.body;
}

/**
 * The value of the sample `name{labels}` in an exposition, or undefined when absent. Labels must match
 * exactly (all of them, any order).
 */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1));
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = [...(match[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1] as string, m[2] as string]);
    found.sort(([a], [b]) => ((a as string) < (b as string) ? -1 : 1));
    if (JSON.stringify(found) === JSON.stringify(wanted)) return Number(match[3]);
  }
  return undefined;
}
