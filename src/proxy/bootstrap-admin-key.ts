/**
 * First start: when the trust store is empty, nobody could ever manage the proxy over the network, so
 * the proxy creates an admin key pair for local use (the same operation as `inteli-sysadmin init`) and
 * says where it is. It never overwrites anything: an existing key file or store entry leaves both alone.
 */
import { readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { isProxyError } from '../shared/errors.js';
import { parsePublicJwk } from '../shared/identity/jwk.js';
import { writeKeyPair } from '../shared/identity/write-key-pair.js';
import type { TrustStore } from '../shared/trust/trust-store.js';
import type { Logger } from '../shared/logger.js';
import { DEFAULT_ADMIN_ID, initAdmin, type InitAdminResult } from '../shared/trust/init-admin.js';
import { openFileTrustStore } from '../shared/trust/file-trust-store.js';

/** Default directory of the bootstrap admin key pair, beside (never inside) the certstore. */
export const DEFAULT_BOOTSTRAP_KEY_DIR = 'keys';

/** What the bootstrap did. */
export type BootstrapOutcome =
  | { readonly created: true; readonly result: InitAdminResult }
  | { readonly created: false; readonly reason: 'store-not-empty' | 'key-file-exists' | 'fleet' };

/**
 * Creates and trusts an admin key when the store in `certstore` is empty.
 *
 * @throws {TrustStoreError} when the store cannot be read or written.
 */
export async function bootstrapAdminKey(certstore: string, keyDir: string, logger: Logger): Promise<BootstrapOutcome> {
  const store = await openFileTrustStore(certstore);
  if (store.size > 0) return { created: false, reason: 'store-not-empty' };
  try {
    const result = await initAdmin({ certstore, out: keyDir, id: DEFAULT_ADMIN_ID });
    logger.warn(
      { privateKeyFile: result.privatePath, fingerprint: result.fingerprint },
      'empty trust store: created the admin key pair; keep the private key file safe',
    );
    return { created: true, result };
  } catch (error) {
    if (isProxyError(error, 'RP_ERR_ALREADY_EXISTS')) {
      logger.warn({ keyDir: path.resolve(keyDir) }, 'empty trust store but an admin key file already exists; trust it with `inteli-sysadmin keys add` or `init --id`');
      return { created: false, reason: 'key-file-exists' };
    }
    throw error;
  }
}

/**
 * The same first-start bootstrap for a fleet: when the shared (started) store is empty, creates the admin
 * key pair in `keyDir` and trusts it in Redis. Proxies starting together race on the add; the losers
 * remove the key pair they wrote and report `store-not-empty`.
 *
 * @throws {TrustStoreError} when Redis cannot be written.
 */
export async function bootstrapFleetAdminKey(store: TrustStore, keyDir: string, logger: Logger): Promise<BootstrapOutcome> {
  if (store.size > 0) return { created: false, reason: 'store-not-empty' };
  let written: Awaited<ReturnType<typeof writeKeyPair>>;
  try {
    written = await writeKeyPair(DEFAULT_ADMIN_ID, keyDir);
  } catch (error) {
    if (!isProxyError(error, 'RP_ERR_ALREADY_EXISTS')) throw error;
    logger.warn({ keyDir: path.resolve(keyDir) }, 'empty fleet trust store but an admin key file already exists; trust it with `inteli-sysadmin keys add`');
    return { created: false, reason: 'key-file-exists' };
  }
  try {
    const publicKey = parsePublicJwk(JSON.parse(await readFile(written.publicPath, 'utf8')) as unknown);
    await store.add({ id: DEFAULT_ADMIN_ID, publicKey, role: 'admin', scope: {} });
  } catch (error) {
    await Promise.all([unlink(written.privatePath), unlink(written.publicPath)].map((removal) => removal.catch(() => undefined)));
    if (isProxyError(error, 'RP_ERR_ALREADY_EXISTS')) return { created: false, reason: 'store-not-empty' };
    throw error;
  }
  logger.warn({ privateKeyFile: written.privatePath, fingerprint: written.fingerprint }, 'empty fleet trust store: created the admin key pair; keep the private key file safe');
  return { created: true, result: Object.freeze({ id: DEFAULT_ADMIN_ID, ...written, trustStore: 'redis' }) };
}
