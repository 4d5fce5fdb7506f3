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
 * - Targets: `scope.hosts` lists exact host names, IP addresses and CIDRs (IPv4 and IPv6), any port, or
 *   one port of a host (`127.0.0.1:8080`, `[::1]:8080`, `backend.local:8080`). Without it, a target must
 *   be the agent's own address as the proxy sees it on the control socket, any port: that machine is the
 *   agent's. An agent whose control socket comes from loopback, though, shares the proxy's machine (or
 *   sits behind a mesh sidecar): without `scope.hosts` it may name no target at all, since any loopback
 *   port would expose the proxy's own listeners or another local-only service (issue 14). Grant it its
 *   service's port (`--host 127.0.0.1:8080`). The proxy's own listeners are refused for everyone, by
 *   `own-listeners.ts`.
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
  /** Host names and normalised IPs allowed on listed ports only (`host:port` entries). */
  readonly hostPorts: ReadonlyMap<string, ReadonlySet<number>>;
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
  const hostPorts = new Map<string, Set<number>>();
  if (scope.hosts !== undefined) {
    hostNames = new Set();
    addresses = new AddressMatcher();
    for (const entry of scope.hosts) {
      const withPort = splitHostPort(entry);
      if (withPort !== undefined) {
        let ports = hostPorts.get(withPort.host);
        if (ports === undefined) hostPorts.set(withPort.host, (ports = new Set()));
        ports.add(withPort.port);
      } else if (!addresses.add(entry)) {
        hostNames.add(entry.toLowerCase().replace(/\.$/, ''));
      }
    }
  }
  const compiled: CompiledScope = Object.freeze({ rules: Object.freeze(rules), hostNames, addresses, hostPorts, anyHost: scope.anyHost === true });
  cache.set(scope, compiled);
  return compiled;
}

/**
 * Splits a `host:port` scope entry (`127.0.0.1:8080`, `[::1]:8080`, `name:8080`) into the host as
 * targets are compared (normalised IP, or lower-case name) and the port; undefined when the entry names
 * no port (a bare IPv6 address has colons but no brackets, so it is not taken for one).
 */
export function splitHostPort(entry: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]/]+)):(\d{1,5})$/.exec(entry.trim());
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65_535) return undefined;
  const raw = (match[1] ?? match[2] ?? '').toLowerCase().replace(/\.$/, '');
  return { host: normalizeIp(raw) ?? raw, port };
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
export function targetInScope(scope: CompiledScope, target: Pick<TargetAddress, 'host' | 'port'>, remoteAddress: string | undefined): boolean {
  const host = target.host.toLowerCase().replace(/\.$/, '');
  const ip = normalizeIp(host);
  if (scope.addresses !== undefined && scope.hostNames !== undefined) {
    if (ip === undefined ? scope.hostNames.has(host) : scope.addresses.has(ip)) return true;
    return scope.hostPorts.get(ip ?? host)?.has(target.port) === true;
  }
  const remote = remoteAddress === undefined ? undefined : normalizeIp(remoteAddress);
  // A loopback agent's "own address" is the proxy's machine: it needs a grant (see the file comment).
  if (remote === undefined || isLoopback(remote)) return false;
  return ip === remote;
}
