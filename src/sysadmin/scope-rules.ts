/**
 * The check every sysadmin path applies to a key's `scope.rules` before sending it: each rule must be one
 * the proxy's router can match (a literal path prefix, optionally with a host), parsed by the very parser
 * registration uses (`shared/routing/route-rule.ts`). The proxy silently drops a scope rule it cannot
 * parse (failing closed), so `/api/*`, `/(x|y)` or `^/x.*` would leave a key that may register nothing;
 * refusing them here tells the operator at once.
 */
import { parseRule } from '../shared/routing/route-rule.js';

/** The first rule that registration would refuse, with the parser's reason; undefined when all parse. */
export function firstUnregistrableRule(rules: readonly string[]): { readonly rule: string; readonly reason: string } | undefined {
  for (const rule of rules) {
    try {
      parseRule(rule);
    } catch (error) {
      return { rule, reason: (error as Error).message };
    }
  }
  return undefined;
}
