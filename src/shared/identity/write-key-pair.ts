/**
 * `inteli-sysadmin keygen`: writes an agent's Ed25519 key pair as `<id>.key.json` (private, mode 0600)
 * and `<id>.pub.json` (public, to upload into the proxy's trust store). The id is validated before it is
 * used as a file name, and existing files are never overwritten (flag `wx`), so a key in use cannot be
 * destroyed by a repeated command.
 */
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ProxyError } from '../errors.js';
import { assertValidAgentId } from './agent-id.js';
import { fingerprint } from './fingerprint.js';
import { generateKeyPair } from './key-pair.js';

/** Where {@link writeKeyPair} wrote the pair, and the public key's fingerprint. */
export interface WrittenKeyPair {
  /** Absolute path of `<id>.key.json` (mode 0600). */
  readonly privatePath: string;
  /** Absolute path of `<id>.pub.json`. */
  readonly publicPath: string;
  /** RFC 7638 SHA-256 thumbprint of the public key, base64url. */
  readonly fingerprint: string;
}

/**
 * Generates a key pair for `id` and writes it into `dir` (created if needed, mode 0700).
 *
 * @throws {InvalidIdError} when `id` is not a valid id (nothing is written).
 * @throws {ProxyError} `RP_ERR_ALREADY_EXISTS` when either file exists (nothing is overwritten).
 */
export async function writeKeyPair(id: string, dir: string): Promise<{ privatePath: string; publicPath: string; fingerprint: string }> {
  assertValidAgentId(id);
  const resolved = path.resolve(dir);
  await mkdir(resolved, { recursive: true, mode: 0o700 });
  const privatePath = path.join(resolved, `${id}.key.json`);
  const publicPath = path.join(resolved, `${id}.pub.json`);
  const { privateJwk, publicJwk } = await generateKeyPair(id);
  const print = await fingerprint(publicJwk);
  try {
    await writeFile(privatePath, `${JSON.stringify(privateJwk, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    throw existsError(error, privatePath);
  }
  try {
    await writeFile(publicPath, `${JSON.stringify(publicJwk, null, 2)}\n`, { mode: 0o644, flag: 'wx' });
  } catch (error) {
    // Do not leave half a pair behind: the private file was created by this call, so it is ours to remove.
    await unlink(privatePath).catch(() => undefined);
    throw existsError(error, publicPath);
  }
  return Object.freeze({ privatePath, publicPath, fingerprint: print });
}

function existsError(error: unknown, file: string): Error {
  if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
    return new ProxyError('RP_ERR_ALREADY_EXISTS', `${file} already exists; refusing to overwrite a key`, { cause: error });
  }
  return error as Error;
}
