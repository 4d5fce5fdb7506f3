/**
 * Agent and key ids. The same id names a trusted key, the agent that holds it and (as `sub`/`kid`) the
 * tokens it signs. Ids are never built into file paths (the original concatenated them into paths and so
 * allowed `../../etc/passwd`); the pattern still excludes `/`, `\`, NUL and a leading dot so that an id
 * stays harmless wherever it ends up (logs, metrics labels, file names chosen by a user).
 */
import { InvalidIdError } from '../errors.js';

/** What every id matches: a letter or digit, then up to 63 letters, digits, `.`, `_` or `-`. */
export const AGENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Returns true when `v` is a string matching {@link AGENT_ID_PATTERN}. */
export function isValidAgentId(v: unknown): v is string {
  return typeof v === 'string' && v.length <= 64 && AGENT_ID_PATTERN.test(v);
}

/**
 * Returns `v` when it is a valid id.
 *
 * @throws {InvalidIdError} (`RP_ERR_INVALID_ID`) otherwise.
 */
export function assertValidAgentId(v: unknown): string {
  if (!isValidAgentId(v)) throw new InvalidIdError(v);
  return v;
}
