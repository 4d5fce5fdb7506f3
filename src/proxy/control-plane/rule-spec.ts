/**
 * Turns a rule as an agent declares it (`"/api"`, `{ path: "/api", host: "example.com" }`) into the
 * registry's {@link RouteRule}. Temporary local implementation until the data plane's `parseRule` lands;
 * the control plane imports rules only through this file, so the switch is one line.
 */
import { ProxyError } from '../../shared/errors.js';
import type { RuleSpec } from '../../shared/protocol.js';
import type { RouteRule } from '../registry/backend.js';

const PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
const HOST = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Parses and normalises a rule. The path must start with `/`, carry no query, fragment, dot segment or
 * empty segment; a trailing `/` is removed (except for `/` itself). The host is lower-cased, without port.
 *
 * @throws {ProxyError} `RP_ERR_INVALID_MESSAGE` naming the problem.
 */
export function parseRuleSpec(spec: RuleSpec): RouteRule {
  const rawPath = typeof spec === 'string' ? spec : spec.path;
  const rawHost = typeof spec === 'string' ? undefined : spec.host;
  if (typeof rawPath !== 'string' || !PATH.test(rawPath)) {
    throw new ProxyError('RP_ERR_INVALID_MESSAGE', `rule path ${JSON.stringify(String(rawPath).slice(0, 80))} must start with "/" and contain only URL path characters`);
  }
  const segments = rawPath.split('/').slice(1);
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  if (segments.some((segment, index) => (segment === '' && !(index === 0 && segments.length === 1)) || segment === '.' || segment === '..')) {
    throw new ProxyError('RP_ERR_INVALID_MESSAGE', `rule path ${JSON.stringify(rawPath.slice(0, 80))} has an empty or dot segment`);
  }
  const path = `/${segments.join('/')}`;
  if (rawHost === undefined) return Object.freeze({ path });
  const host = rawHost.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  if (!HOST.test(host)) throw new ProxyError('RP_ERR_INVALID_MESSAGE', `rule host ${JSON.stringify(rawHost.slice(0, 80))} is not a host name`);
  return Object.freeze({ path, host });
}
