/**
 * Loads a client's (agent's or admin's) private key from a JWK object or a `<id>.key.json` file (as
 * written by `inteli-sysadmin keygen`). The key material is never logged; only the file name and mode are.
 */
import { readFile, stat } from 'node:fs/promises';
import { InvalidKeyError } from '../errors.js';
import { parsePrivateJwk, type Ed25519PrivateJwk } from '../identity/jwk.js';
import type { Logger } from '../logger.js';

/** Largest key file read, in bytes (a JWK is ~200). */
const MAX_KEY_FILE_BYTES = 16 * 1024;

/**
 * Returns the validated private JWK, reading it from `source` when it is a path. Warns (does not fail)
 * when the file is readable by group or others, as ssh does for its keys.
 *
 * @throws {InvalidKeyError} when the file cannot be read or does not hold an Ed25519 private JWK.
 */
export async function loadPrivateKey(source: Ed25519PrivateJwk | string, logger?: Logger): Promise<Ed25519PrivateJwk> {
  if (typeof source !== 'string') return parsePrivateJwk(source);
  let text: string;
  try {
    const info = await stat(source);
    if (!info.isFile() || info.size > MAX_KEY_FILE_BYTES) throw new Error(`not a key file (at most ${MAX_KEY_FILE_BYTES} bytes)`);
    if ((info.mode & 0o077) !== 0) {
      logger?.warn({ file: source, mode: (info.mode & 0o777).toString(8) }, 'private key file is readable by others; chmod 600 it');
    }
    text = await readFile(source, 'utf8');
  } catch (error) {
    throw new InvalidKeyError(`cannot read private key file ${source}: ${(error as Error).message}`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidKeyError(`private key file ${source} is not JSON (expected a .key.json from inteli-sysadmin keygen)`);
  }
  try {
    return parsePrivateJwk(value);
  } catch (error) {
    throw new InvalidKeyError(`private key file ${source}: ${(error as Error).message}`, { cause: error });
  }
}
