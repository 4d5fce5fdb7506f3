/**
 * A keyring of cluster secrets, for rotation without downtime: the newest secret seals (beacons, probes,
 * proofs), every secret of the ring is accepted. To rotate: give every node `new,old`, then, once all run
 * with both, `new` alone. Nodes with only `old` and nodes with only `new` do not see each other, so the
 * middle step is what keeps every session.
 */
import { ClusterSecretError } from '../errors.js';
import { deriveClusterKeys, type ClusterKeys } from './cluster-keys.js';
import { parseClusterSecrets } from './cluster-secret.js';

/** The derived keys of one or more cluster secrets. */
export class ClusterKeyring {
  /** Every key set, newest first. */
  readonly keys: readonly ClusterKeys[];

  private constructor(keys: ClusterKeys[]) {
    this.keys = Object.freeze(keys);
  }

  /**
   * Builds a keyring from secrets, newest first: encoded text (one, or several separated by commas or
   * white space), an array of them, or decoded bytes. A secret given twice counts once.
   *
   * @param name what to call the value in an error (the variable or option name).
   * @throws {ClusterSecretError} when a secret is missing or weak.
   */
  static from(secrets: string | Buffer | readonly (string | Buffer)[], name = 'secret'): ClusterKeyring {
    const decoded = parseClusterSecrets(secrets, name);
    const keys: ClusterKeys[] = [];
    for (const secret of decoded) {
      const derived = deriveClusterKeys(secret);
      if (!keys.some((known) => known.datagramKey.equals(derived.datagramKey))) keys.push(derived);
    }
    if (keys.length === 0) throw new ClusterSecretError(`${name}: no secret given`);
    return new ClusterKeyring(keys);
  }

  /** The keys that seal: those of the newest secret. */
  get current(): ClusterKeys {
    return this.keys[0] as ClusterKeys;
  }

  /** The key sets whose id is `keyId` (normally zero or one; two only on a 32-bit id collision). */
  find(keyId: Buffer): ClusterKeys[] {
    return this.keys.filter((keys) => keys.keyId.equals(keyId));
  }
}
