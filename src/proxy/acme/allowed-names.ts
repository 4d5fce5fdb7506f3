/**
 * Which names the proxy may obtain certificates for: the hosts of the host-bound rules in the scopes of
 * trusted keys (`api.example.com/v1` in a key's `scope.rules` allows `api.example.com`). A name no key may
 * serve is never ordered, whatever a client sends as SNI or an agent registers: neither can make the
 * proxy ask a CA for an arbitrary certificate (and burn its rate limits). Scope rules cannot hold
 * wildcards, so neither can an allowed name.
 */
import { certificateName } from './certificate-name.js';

/** The part of a trusted key this reads (the trust store's `TrustedKey` fits). */
export interface ScopedKey {
  readonly scope: { readonly rules?: readonly string[] | undefined };
}

/** Where the allowed names come from: usually the trust store's `list()`. */
export type ScopedKeySource = () => Iterable<ScopedKey> | undefined;

const cache = new WeakMap<object, ReadonlySet<string>>();

/** The certificate names one scope allows (cached by scope object: the trust store replaces it on change). */
function scopeNames(scope: ScopedKey['scope']): ReadonlySet<string> {
  const cached = cache.get(scope);
  if (cached !== undefined) return cached;
  const names = new Set<string>();
  for (const rule of scope.rules ?? []) {
    // A scope rule is `/path` or `host[:port]/path`; only the host part matters here.
    const slash = rule.indexOf('/');
    if (slash <= 0) continue;
    let host = rule.slice(0, slash);
    if (host.startsWith('[')) continue;
    const colon = host.indexOf(':');
    if (colon !== -1) host = host.slice(0, colon);
    const name = certificateName(host);
    if (name !== undefined) names.add(name);
  }
  cache.set(scope, names);
  return names;
}

/** Every certificate name some key's scope allows. */
export function allowedCertificateNames(keys: Iterable<ScopedKey> | undefined): Set<string> {
  const names = new Set<string>();
  if (keys === undefined) return names;
  for (const key of keys) for (const name of scopeNames(key.scope)) names.add(name);
  return names;
}

/** True when some key's scope allows `name` (already normalised with `certificateName`). */
export function isCertificateNameAllowed(keys: Iterable<ScopedKey> | undefined, name: string): boolean {
  if (keys === undefined) return false;
  for (const key of keys) if (scopeNames(key.scope).has(name)) return true;
  return false;
}
