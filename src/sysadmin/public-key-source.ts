/**
 * Reads the public key a sysadmin uploads: a JWK object, a `<id>.pub.json` file (from
 * `inteli-sysadmin keygen`) or an SPKI PEM file (from `openssl pkey -pubout`). A private key offered
 * where a public one belongs is refused with a message that says so, rather than silently stripped:
 * the mistake usually means the private key is about to be copied somewhere it should not be.
 */
import { readFile, stat } from 'node:fs/promises';
import { InvalidKeyError } from '../shared/errors.js';
import { parsePublicJwk, type Ed25519PublicJwk } from '../shared/identity/jwk.js';
import { publicKeyFromPem } from '../shared/identity/key-pair.js';

/** Largest public key file read, in bytes (a JWK is ~150, a PEM ~110). */
export const MAX_PUBLIC_KEY_FILE_BYTES = 16 * 1024;

/** A public key as the sysadmin API accepts it: a JWK object, or the path of a JWK or PEM file. */
export type PublicKeySource = Ed25519PublicJwk | Readonly<Record<string, unknown>> | string;

async function readKeyFile(file: string): Promise<string> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error('not a regular file');
    if (info.size > MAX_PUBLIC_KEY_FILE_BYTES) throw new Error(`larger than ${MAX_PUBLIC_KEY_FILE_BYTES} bytes, not a key file`);
    return await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new InvalidKeyError(`cannot read public key file ${file}: ${reason}`, { cause: error });
  }
}

/**
 * Returns the validated Ed25519 public JWK of `source`. A string is always a file path; the file holds
 * a JWK (JSON) or an SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
 *
 * @throws {InvalidKeyError} (`RP_ERR_INVALID_KEY`) naming the file and the problem: missing or
 * unreadable file, not JSON or PEM, not Ed25519, or private key material.
 */
export async function loadPublicKey(source: PublicKeySource): Promise<Ed25519PublicJwk> {
  if (typeof source !== 'string') return parsePublicJwk(source);
  if (source.length === 0) throw new InvalidKeyError('public key: expected a JWK object or a file path');
  const text = await readKeyFile(source);
  try {
    if (text.includes('-----BEGIN')) {
      if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
        throw new InvalidKeyError('the PEM holds a private key; give the public key (openssl pkey -in key.pem -pubout)');
      }
      return await publicKeyFromPem(text);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new InvalidKeyError('neither a JWK (JSON) nor an SPKI PEM');
    }
    return parsePublicJwk(value);
  } catch (error) {
    throw new InvalidKeyError(`public key file ${source}: ${(error as Error).message}`, { cause: error });
  }
}
