/**
 * Authorization of a registration against its key's scope: which rules an agent may serve and which
 * target hosts it may make the proxy connect to. This is what keeps an agent from claiming `/` (stealing
 * every other backend's traffic) or pointing the proxy at an internal service (SSRF).
 *
 * - Rules: a scope rule `/api` (or `host/api`) allows `/api` and everything below it on a segment
 *   boundary (`/api/v1`, not `/apix`); a scope rule with a host allows only rules for that host. A
 *   host-less scope rule allows only host-less rules unless the scope says `anyHost: true`: otherwise a
 *   key granted `/v1` could register `api.example.com/v1/login` and take that path from the key granted
 *   exactly `api.example.com/v1` (issue 14). A key whose scope lists no rules may register none: there
 *   is no implicit "everything".
 * - Targets: `scope.hosts` lists exact host names, IP addresses and CIDRs (IPv4 and IPv6). Without it, a
 *   target must be the agent's own address as the proxy sees it on the control socket; an agent
 *   connecting over loopback may also name any loopback address or `localhost` (same machine).
 *
 * Scopes are compiled once per trusted key (cached by object identity; the trust store replaces the
 * object on every change) so a registration check does no parsing.
 */
import type { KeyScope } from '../../shared/protocol.js';
import type { RouteRule, TargetAddress } from '../registry/backend.js';
import { AddressMatcher, isLoopback, normalizeIp } from './address.js';
import { parseRuleSpec } from './rule-spec.js';

/** A scope prepared for checks. */
export interface CompiledScope {
  /** Allowed rules (normalised). */
  readonly rules: readonly RouteRule[];
  /** Allowed host names (lower case); undefined when the scope has no `hosts` (own address only). */
  readonly hostNames: ReadonlySet<string> | undefined;
  /** Allowed addresses and networks; undefined when the scope has no `hosts`. */
  readonly addresses: AddressMatcher | undefined;
  /** Host-less scope rules also allow host-bound rules (`scope.anyHost`). */
  readonly anyHost: boolean;
}

const cache = new WeakMap<object, CompiledScope>();

/** Parses a scope rule `"/api"` or `"host/api"` into a rule; undefined when it is not valid. */
export function parseScopeRule(entry: string): RouteRule | undefined {
  try {
    return parseRuleSpec(entry);
  } catch {
    return undefined;
  }
}

/**
 * Compiles a scope. Entries that do not parse are dropped (they match nothing: failing closed), since a
 * scope comes from a file that may have been edited by hand.
 */
export function compileScope(scope: Readonly<KeyScope>): CompiledScope {
  const cached = cache.get(scope);
  if (cached !== undefined) return cached;
  const rules = (scope.rules ?? []).map(parseScopeRule).filter((rule): rule is RouteRule => rule !== undefined);
  let hostNames: Set<string> | undefined;
  let addresses: AddressMatcher | undefined;
  if (scope.hosts !== undefined) {
    hostNames = new Set();
    addresses = new AddressMatcher();
    for (const entry of scope.hosts) {
      if (!addresses.add(entry)) hostNames.add(entry.toLowerCase().replace(/\.$/, ''));
    }
  }
  const compiled: CompiledScope = Object.freeze({ rules: Object.freeze(rules), hostNames, addresses, anyHost: scope.anyHost === true });
  cache.set(scope, compiled);
  return compiled;
}

/** True when `path` equals `prefix` or lies below it on a segment boundary. */
export function isWithinPath(path: string, prefix: string): boolean {
  if (prefix === '/' || path === prefix) return true;
  return path.length > prefix.length && path.startsWith(prefix) && path.charCodeAt(prefix.length) === 0x2f;
}

/** True when the scope allows the rule. */
export function ruleInScope(scope: CompiledScope, rule: RouteRule): boolean {
  for (const allowed of scope.rules) {
    if (allowed.host !== undefined && allowed.host !== rule.host) continue;
    if (allowed.host === undefined && rule.host !== undefined && !scope.anyHost) continue;
    if (isWithinPath(rule.path, allowed.path)) return true;
  }
  return false;
}

/**
 * True when the scope allows the proxy to connect to `target` for an agent whose control socket comes
 * from `remoteAddress`.
 */
export function targetInScope(scope: CompiledScope, target: Pick<TargetAddress, 'host'>, remoteAddress: string | undefined): boolean {
  const host = target.host.toLowerCase().replace(/\.$/, '');
  const ip = normalizeIp(host);
  if (scope.addresses !== undefined && scope.hostNames !== undefined) {
    return ip === undefined ? scope.hostNames.has(host) : scope.addresses.has(ip);
  }
  const remote = remoteAddress === undefined ? undefined : normalizeIp(remoteAddress);
  if (remote === undefined) return false;
  if (isLoopback(remote)) return host === 'localhost' || (ip !== undefined && isLoopback(ip));
  return ip === remote;
}
