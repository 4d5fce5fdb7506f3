/**
 * Parsing and validation of routing rules, shared by the data plane, the control plane and the sysadmin
 * tools (which refuse a key scope the proxy could never match). A rule is a
 * path prefix matched on a segment boundary, optionally restricted to one host. Rules are plain strings,
 * never regular expressions, so a rule cannot fail at match time or cost more than a map lookup.
 */
import { InvalidOptionError } from '../errors.js';
import { normalizePath } from './path-normalizer.js';

/**
 * A routing rule: a path prefix matched on a segment boundary (`/api` matches `/api`, `/api/x` and
 * `/api?q`, not `/apix`), optionally restricted to one host (compared case-insensitively, without port).
 */
export interface RouteRule {
  /** Normalised path prefix, starting with `/`, without a trailing `/` unless it is `/` itself. */
  readonly path: string;
  /** Lower-case host name without port, or undefined for any host. */
  readonly host?: string | undefined;
}

/** Longest accepted rule path, in characters. */
export const MAX_RULE_PATH_LENGTH = 1024;
/** Longest accepted host name (RFC 1035). */
export const MAX_RULE_HOST_LENGTH = 253;

/** Characters a rule path may contain besides `%XX` escapes: RFC 3986 pchar plus `/`. */
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
/**
 * Characters that suggest a regular expression. The original's rules were regular expressions; here a
 * rule is a literal prefix, so such a rule is refused with a hint rather than silently matching nothing.
 */
const REGEX_CHARS = /[*()^$|+]/;
/** A DNS name, an IPv4 address, or a bracketed IPv6 address, lower case, without port. */
const HOST_NAME = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/;
const HOST_IPV6 = /^\[[0-9a-f:.]+\]$/;

/** What {@link parseRule} accepts: a string such as `/api`, `/api/` or `host.example/api`, or a rule object. */
export type RuleInput = string | { readonly path: string; readonly host?: string | undefined };

function fail(input: unknown, reason: string): never {
  throw new InvalidOptionError(`invalid rule ${JSON.stringify(String(input).slice(0, 80))}: ${reason}`);
}

/**
 * Normalises a host as the router compares it: lower case, port and trailing dot removed.
 * Returns undefined for an empty host. Used for both rules and request `Host` headers.
 */
export function normalizeHost(raw: string): string | undefined {
  let host = raw.trim().toLowerCase();
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    host = close === -1 ? host : host.slice(0, close + 1);
  } else {
    const colon = host.indexOf(':');
    if (colon !== -1) host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host === '' ? undefined : host;
}

function parseHost(input: unknown, raw: string): string {
  const host = normalizeHost(raw);
  if (host === undefined) fail(input, 'the host is empty');
  if (host.length > MAX_RULE_HOST_LENGTH) fail(input, `the host is longer than ${MAX_RULE_HOST_LENGTH} characters`);
  if (!HOST_NAME.test(host) && !HOST_IPV6.test(host)) fail(input, 'the host is not a valid host name or IP address');
  return host;
}

function parsePath(input: unknown, raw: string): string {
  if (!raw.startsWith('/')) fail(input, 'the path must start with "/"');
  if (raw.length > MAX_RULE_PATH_LENGTH) fail(input, `the path is longer than ${MAX_RULE_PATH_LENGTH} characters`);
  if (REGEX_CHARS.test(raw)) fail(input, 'rules are literal path prefixes, not regular expressions (remove * ( ) ^ $ | +)');
  if (!PATH_CHARS.test(raw)) fail(input, 'the path contains characters that are not allowed in a URL path');
  if (raw.split('/').some((segment) => segment === '.' || segment === '..')) fail(input, 'the path contains dot segments');
  const normalized = normalizePath(raw);
  if (normalized === undefined) fail(input, 'the path has malformed percent-encoding or a hidden traversal');
  // A rule is a prefix on a segment boundary, so a trailing slash carries no meaning.
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

/**
 * Validates and normalises a rule.
 *
 * @example parseRule('/api/') // { path: '/api', host: undefined }
 * @example parseRule('Example.COM:8080/api') // { path: '/api', host: 'example.com' }
 * @throws {InvalidOptionError} (`RP_ERR_INVALID_OPTION`) naming the rule and what is wrong with it.
 */
export function parseRule(input: RuleInput): RouteRule {
  if (typeof input === 'string') {
    if (input.startsWith('^')) fail(input, 'rules are literal path prefixes, not regular expressions');
    const slash = input.indexOf('/');
    if (slash === -1) fail(input, 'a rule needs a path starting with "/"');
    const host = slash === 0 ? undefined : parseHost(input, input.slice(0, slash));
    return Object.freeze({ path: parsePath(input, input.slice(slash)), host });
  }
  if (typeof input !== 'object' || input === null || typeof input.path !== 'string') {
    fail(input, 'expected a string or an object with a string "path"');
  }
  if (input.host !== undefined && typeof input.host !== 'string') fail(input.path, 'the host must be a string');
  const host = input.host === undefined || input.host === '' ? undefined : parseHost(input.path, input.host);
  return Object.freeze({ path: parsePath(input.path, input.path), host });
}

/** The string form of a rule (`/api` or `example.com/api`), also the key its route is stored under. */
export function ruleKey(rule: RouteRule): string {
  return rule.host === undefined ? rule.path : `${rule.host}${rule.path}`;
}
