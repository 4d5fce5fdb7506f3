/**
 * The cluster secret: the one thing proxies and agents share to find and recognise each other. It must be
 * at least 32 random bytes, written in base64, base64url or hex, because every discovery key is derived
 * from it and an attacker on the LAN can record beacons and guess offline: a passphrase a person chose
 * would fall to a dictionary. Since the entropy of a text cannot be measured, only encoded random bytes
 * are accepted, and a value whose bytes are obviously not random (`AAAA...`, `0000...`) is refused too.
 *
 * Several secrets (separated by commas, spaces or new lines; the first one seals) make a keyring for rotation;
 * see `cluster-keyring.ts`. Nothing here reads `process.env`: the caller passes the variable's value.
 */
import { readFile, stat } from 'node:fs/promises';
import { ClusterSecretError } from '../errors.js';

/** Fewest bytes a cluster secret decodes to (256 bits). */
export const MIN_CLUSTER_SECRET_BYTES = 32;
/** Most secrets one keyring takes (a rotation needs two; a few spare for staged changes). */
export const MAX_CLUSTER_SECRETS = 8;
/** Largest secret file read, in bytes (a keyring of base64 secrets is far smaller). */
export const MAX_CLUSTER_SECRET_FILE_BYTES = 4096;
/** The command the error messages suggest. */
export const CLUSTER_SECRET_COMMAND = 'openssl rand -base64 32';
/** The same without openssl. */
export const CLUSTER_SECRET_NODE_COMMAND = `node -e "console.log(require('node:crypto').randomBytes(32).toString('base64'))"`;

/**
 * Random 32 bytes show about 30 distinct values; fewer than this many distinct byte values means the
 * "secret" was typed, not generated (the chance for a random one is far below 2^-100).
 */
const MIN_DISTINCT_BYTES = 16;
const HEX = /^[0-9a-fA-F]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const MAX_SECRET_CHARS = 1024;

function hint(name: string, problem: string): ClusterSecretError {
  return new ClusterSecretError(
    `${name}: ${problem}; a cluster secret is at least ${MIN_CLUSTER_SECRET_BYTES} random bytes in base64 or hex ` +
      `(43 or more base64 characters); make one with: ${CLUSTER_SECRET_COMMAND}   (or: ${CLUSTER_SECRET_NODE_COMMAND})`,
  );
}

function decode(text: string): Buffer | undefined {
  // Hex first: 64 hex digits are also valid base64, but whoever wrote them meant hex.
  if (HEX.test(text) && text.length % 2 === 0) return Buffer.from(text, 'hex');
  if (!BASE64.test(text) && !BASE64URL.test(text)) return undefined;
  const unpadded = text.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) return undefined;
  // Node's base64 decoder accepts both alphabets.
  return Buffer.from(unpadded, 'base64');
}

/**
 * Decodes one cluster secret (base64, base64url or hex; surrounding white space ignored).
 *
 * @param name what to call the value in an error (`PROXY_CLUSTER_SECRET`, `discovery.secret`, a path).
 * @throws {ClusterSecretError} when it is not encoded random bytes of at least 32 bytes. The message
 *   never contains the value.
 */
export function parseClusterSecret(value: unknown, name = 'secret'): Buffer {
  if (Buffer.isBuffer(value)) return checkBytes(Buffer.from(value), name);
  if (typeof value !== 'string' || value.trim() === '') throw hint(name, 'no secret given');
  const text = value.trim();
  if (text.length > MAX_SECRET_CHARS) throw hint(name, `longer than ${MAX_SECRET_CHARS} characters`);
  const bytes = decode(text);
  if (bytes === undefined) throw hint(name, 'not base64 or hex (a passphrase is not accepted)');
  return checkBytes(bytes, name);
}

function checkBytes(bytes: Buffer, name: string): Buffer {
  if (bytes.length < MIN_CLUSTER_SECRET_BYTES) throw hint(name, `only ${bytes.length} bytes`);
  if (new Set(bytes).size < MIN_DISTINCT_BYTES) throw hint(name, 'its bytes are not random');
  return bytes;
}

/**
 * Decodes a list of secrets (the first seals; all are accepted): separated by commas, white
 * space or new lines, or given as an array.
 *
 * @throws {ClusterSecretError} for an empty list, too many secrets, or any invalid one (named by index).
 */
export function parseClusterSecrets(value: unknown, name = 'secret'): Buffer[] {
  let items: unknown[];
  if (Array.isArray(value)) items = value;
  else if (typeof value === 'string') items = value.split(/[\s,]+/).filter((item) => item !== '');
  else if (Buffer.isBuffer(value)) items = [value];
  else items = [];
  if (items.length === 0) throw hint(name, 'no secret given');
  if (items.length > MAX_CLUSTER_SECRETS) {
    throw new ClusterSecretError(`${name}: at most ${MAX_CLUSTER_SECRETS} secrets, got ${items.length}`);
  }
  return items.map((item, index) => parseClusterSecret(item, items.length > 1 ? `${name}[${index}]` : name));
}

/**
 * Reads secrets from a file (one or more, the first one sealing, as {@link parseClusterSecrets} takes them).
 *
 * @throws {ClusterSecretError} when the file is missing, not a regular file, larger than 4 KiB, or holds
 *   an invalid secret.
 */
export async function readClusterSecretFile(path: string): Promise<Buffer[]> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    if (info.size > MAX_CLUSTER_SECRET_FILE_BYTES) throw new Error(`larger than ${MAX_CLUSTER_SECRET_FILE_BYTES} bytes`);
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ClusterSecretError(`cannot read the cluster secret file ${path}: ${(error as Error).message}`, { cause: error });
  }
  return parseClusterSecrets(text, path);
}
