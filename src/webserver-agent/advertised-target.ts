/**
 * The target an agent registers: where the proxy should forward to. Explicit `target` fields win; then
 * the server's bound address; a wildcard bind (`0.0.0.0`, `::`) is replaced by the local address of the
 * control connection, which is the address the proxy sees this host at (barring NAT), so the default
 * target also passes the proxy's default scope ("the agent's own address").
 */
import type http from 'node:http';
import type https from 'node:https';
import tls from 'node:tls';
import { InvalidOptionError } from '../shared/errors.js';
import type { TargetSpec } from '../shared/protocol.js';
import type { AdvertisedTarget } from './agent-options.js';

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/**
 * Computes the target to register.
 *
 * @throws {InvalidOptionError} when no port is known (a server bound to a pipe and no `target.port`).
 */
export function advertisedTarget(target: Readonly<AdvertisedTarget> = {}, server: http.Server | https.Server | undefined, localAddress: string | undefined): TargetSpec {
  const address = server?.address();
  const bound = typeof address === 'object' && address !== null ? address : undefined;
  const port = target.port ?? bound?.port;
  let host = target.host ?? bound?.address;
  if (host !== undefined && host.startsWith('::ffff:')) host = host.slice(7);
  if (host === undefined || isWildcard(host)) host = localAddress ?? '127.0.0.1';
  if (port === undefined) throw new InvalidOptionError('target.port: the server is not listening on a TCP port; give target { host, port }');
  return { host, port, protocol: target.protocol ?? (server instanceof tls.Server ? 'https' : 'http') };
}
