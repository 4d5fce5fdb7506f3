/**
 * One entry of the trust store, and how it is built from untrusted input (an API call, a `keys.add`
 * frame, a line of the store file): id, key, role and scope are all validated here.
 */
import { InvalidOptionError } from '../errors.js';
import { assertValidAgentId } from '../identity/agent-id.js';
import { fingerprint as thumbprint } from '../identity/fingerprint.js';
import { parsePublicJwk, type Ed25519PublicJwk } from '../identity/jwk.js';
import type { KeyRole, KeyScope } from '../protocol.js';
import { parseKeyScope } from './key-scope.js';

/** One trusted key. Frozen; a change replaces the object. */
export interface TrustedKey {
  readonly id: string;
  readonly publicKey: Ed25519PublicJwk;
  /** RFC 7638 SHA-256 thumbprint of `publicKey`, base64url. */
  readonly fingerprint: string;
  readonly role: KeyRole;
  readonly scope: Readonly<KeyScope>;
  /** ISO 8601 time the key was added. */
  readonly createdAt: string;
}

/** Input of `TrustStore.add`. */
export interface AddKeyInput {
  id: string;
  /** Ed25519 public JWK (validated at run time; a JWK with `d` is refused). */
  publicKey: unknown;
  /** Default `agent`. */
  role?: KeyRole;
  /** Default `{}`: no rules, targets only on the agent's own address. */
  scope?: KeyScope;
}

const ROLES: ReadonlySet<string> = new Set(['agent', 'admin']);

/**
 * Builds a frozen {@link TrustedKey} from untrusted input.
 *
 * @throws {InvalidIdError} | {InvalidKeyError} | {InvalidOptionError} naming the problem.
 */
export async function buildTrustedKey(input: AddKeyInput, createdAt: string): Promise<TrustedKey> {
  const id = assertValidAgentId(input.id);
  const publicKey = parsePublicJwk(input.publicKey);
  const role = input.role ?? 'agent';
  if (!ROLES.has(role)) throw new InvalidOptionError(`role: expected "agent" or "admin", got ${JSON.stringify(String(role)).slice(0, 40)}`);
  const scope = parseKeyScope(input.scope ?? {});
  return Object.freeze({ id, publicKey, fingerprint: await thumbprint(publicKey), role, scope, createdAt });
}

/** True when two entries grant the same thing (same key, role and scope). */
export function sameGrant(a: TrustedKey, b: TrustedKey): boolean {
  return a.fingerprint === b.fingerprint && a.role === b.role && JSON.stringify(a.scope) === JSON.stringify(b.scope);
}

/** Orders keys by id (stable file content and listings). */
export function byId(a: TrustedKey, b: TrustedKey): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
