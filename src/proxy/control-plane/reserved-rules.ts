/**
 * Reserved rules: every rule some trusted key's scope allows. While a key may serve `/api`, requests
 * under `/api` belong to it: with no ready backend they answer 403 `NO_TARGET` rather than fall through
 * to a shorter rule (a catch-all `/` would otherwise answer for an application it knows nothing about,
 * hiding the outage and leaking the requests). The control plane recomputes them whenever a key is
 * added or removed and publishes them through the registry, which carries them to cluster workers.
 */
import type { RouteRule } from '../registry/backend.js';
import { parseScopeRule } from './scope.js';
import type { TrustedKey } from '../../shared/trust/trusted-key.js';

/** The distinct rules of every key's scope, in a stable order (entries that do not parse are skipped). */
export function reservedRules(keys: readonly TrustedKey[]): RouteRule[] {
  const rules = new Map<string, RouteRule>();
  for (const key of keys) {
    for (const entry of key.scope.rules ?? []) {
      const rule = parseScopeRule(entry);
      if (rule !== undefined) rules.set(`${rule.host ?? ''}\u0000${rule.path}`, rule);
    }
  }
  return [...rules.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, rule]) => rule);
}
