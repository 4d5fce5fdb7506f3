/**
 * Runtime validation of a key's scope (the rules and target hosts an agent may register). Scopes come from
 * the trust-store file and from `keys.add` frames, so their shape and size are checked, not assumed.
 */
import { InvalidOptionError } from '../errors.js';
import type { KeyScope } from '../protocol.js';

/** Most rules one scope may list. */
export const MAX_SCOPE_RULES = 64;
/** Most hosts one scope may list. */
export const MAX_SCOPE_HOSTS = 64;
/** Longest scope rule, in characters. */
export const MAX_SCOPE_RULE_LENGTH = 512;
/** Longest scope host or CIDR, in characters. */
export const MAX_SCOPE_HOST_LENGTH = 255;

// Printable ASCII without spaces: scope entries are compared, never evaluated as patterns.
const PRINTABLE = /^[\x21-\x7e]+$/;

function parseList(value: unknown, name: 'rules' | 'hosts', maxCount: number, maxLength: number): string[] {
  if (!Array.isArray(value)) throw new InvalidOptionError(`scope.${name}: expected an array of strings`);
  if (value.length > maxCount) throw new InvalidOptionError(`scope.${name}: at most ${maxCount} entries, got ${value.length}`);
  const out: string[] = [];
  for (const item of value) {
    if (typeof item !== 'string' || item.length === 0 || item.length > maxLength || !PRINTABLE.test(item)) {
      throw new InvalidOptionError(`scope.${name}: every entry must be a string of 1 to ${maxLength} printable characters without spaces`);
    }
    if (name === 'rules' && !item.includes('/')) {
      throw new InvalidOptionError(`scope.rules: "${item.slice(0, 40)}" must be a path prefix ("/api") or "host/path"`);
    }
    if (!out.includes(item)) out.push(item);
  }
  return out;
}

/**
 * Validates a scope and returns a frozen copy with only `rules`, `hosts` and `anyHost` (each optional).
 *
 * @throws {InvalidOptionError} naming the field and its bound.
 */
export function parseKeyScope(value: unknown): Readonly<KeyScope> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError('scope: expected an object { rules?: string[], hosts?: string[], anyHost?: boolean }');
  }
  const record = value as Record<string, unknown>;
  for (const field of Object.keys(record)) {
    if (field !== 'rules' && field !== 'hosts' && field !== 'anyHost') throw new InvalidOptionError(`scope: unknown field "${field.slice(0, 40)}"`);
  }
  const scope: KeyScope = {};
  if (record.rules !== undefined) scope.rules = Object.freeze(parseList(record.rules, 'rules', MAX_SCOPE_RULES, MAX_SCOPE_RULE_LENGTH)) as string[];
  if (record.hosts !== undefined) scope.hosts = Object.freeze(parseList(record.hosts, 'hosts', MAX_SCOPE_HOSTS, MAX_SCOPE_HOST_LENGTH)) as string[];
  if (record.anyHost !== undefined) {
    if (typeof record.anyHost !== 'boolean') throw new InvalidOptionError('scope.anyHost: expected a boolean');
    // Only `true` is stored: `false` is the default, and the file stays as it was for existing keys.
    if (record.anyHost) scope.anyHost = true;
  }
  return Object.freeze(scope);
}
