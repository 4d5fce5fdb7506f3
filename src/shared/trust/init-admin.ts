/**
 * `inteli-sysadmin init` and the proxy's first start, offline: creates the first admin key pair and trusts its public key with role
 * `admin` in the local trust store file. It is also the way back in when every admin key was lost: it
 * needs file access to the store, not a connection.
 *
 * The private key goes OUTSIDE the certstore (mode 0600): the store is the proxy's list of who may
 * connect, often shared or backed up, and must never hold a secret. Nothing is overwritten: an existing
 * key file or an existing store entry with the same id stops the command before anything is written,
 * and a failed store write removes the key files this call created.
 */
import { readFile, realpath, unlink } from 'node:fs/promises';
import path from 'node:path';
import { InvalidOptionError, ProxyError } from '../errors.js';
import { assertValidAgentId } from '../identity/agent-id.js';
import { parsePublicJwk } from '../identity/jwk.js';
import { writeKeyPair } from '../identity/write-key-pair.js';
import { openFileTrustStore } from './file-trust-store.js';

/** Default trust store directory (the proxy's `PROXY_CERTSTORE` default). */
export const DEFAULT_INIT_CERTSTORE = 'certstore';
/** Default directory of the admin key pair: next to the certstore, never inside it. */
export const DEFAULT_INIT_OUT = 'keys';
/** Default admin id. */
export const DEFAULT_ADMIN_ID = 'admin';

/** Options of {@link initAdmin}. */
export interface InitAdminOptions {
  /** Trust store directory. Default `certstore`. */
  certstore?: string;
  /** Directory for `<id>.key.json` and `<id>.pub.json`, outside the certstore. Default `keys`. */
  out?: string;
  /** Admin key id. Default `admin`. */
  id?: string;
}

/** What {@link initAdmin} created. */
export interface InitAdminResult {
  readonly id: string;
  /** Absolute path of the private key (mode 0600). */
  readonly privatePath: string;
  /** Absolute path of the public key. */
  readonly publicPath: string;
  /** RFC 7638 thumbprint of the public key. */
  readonly fingerprint: string;
  /** Absolute path of the trust store file the key was added to. */
  readonly trustStore: string;
}

/** The real path of `dir`, or of its nearest existing ancestor joined with the rest (symlinks resolved). */
async function canonical(dir: string): Promise<string> {
  const resolved = path.resolve(dir);
  try {
    return await realpath(resolved);
  } catch {
    const parent = path.dirname(resolved);
    return parent === resolved ? resolved : path.join(await canonical(parent), path.basename(resolved));
  }
}

function isInside(child: string, parent: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * Creates the admin key pair in `out` and trusts it with role `admin` in the store in `certstore`.
 *
 * @throws {InvalidIdError} for a bad id; {@link InvalidOptionError} when `out` lies inside the
 * certstore; {@link ProxyError} `RP_ERR_ALREADY_EXISTS` when the id is already trusted or a key file
 * exists; {@link TrustStoreError} when the store cannot be read or written.
 */
export async function initAdmin(options: InitAdminOptions = {}): Promise<InitAdminResult> {
  const id = assertValidAgentId(options.id ?? DEFAULT_ADMIN_ID);
  const certstore = await canonical(options.certstore ?? DEFAULT_INIT_CERTSTORE);
  const out = await canonical(options.out ?? DEFAULT_INIT_OUT);
  if (isInside(out, certstore)) {
    throw new InvalidOptionError(`--out ${out} is inside the certstore ${certstore}; a private key must live outside it`);
  }
  const store = await openFileTrustStore(certstore);
  if (store.get(id) !== undefined) {
    throw new ProxyError('RP_ERR_ALREADY_EXISTS', `the trust store ${store.file} already trusts a key "${id}"; pick another --id`);
  }
  const written = await writeKeyPair(id, out);
  try {
    // The file this call just wrote, read back so that what is trusted is exactly what is on disk.
    const publicKey = parsePublicJwk(JSON.parse(await readFile(written.publicPath, 'utf8')) as unknown);
    await store.add({ id, publicKey, role: 'admin', scope: {} });
  } catch (error) {
    // The pair was created by this call and is useless untrusted: remove it so a retry starts clean.
    await Promise.all([unlink(written.privatePath), unlink(written.publicPath)].map((removal) => removal.catch(() => undefined)));
    throw error;
  }
  return Object.freeze({ id, ...written, trustStore: store.file });
}
