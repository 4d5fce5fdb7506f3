/**
 * A keyring of cluster secrets, for rotation without downtime: the first secret seals (beacons, probe
 * challenges, proofs), every secret of the ring is accepted, and an answer (probe, channel proof) uses
 * the key its question came with. To rotate from `old` to `new`, in three rolling steps:
 *
 * 1. every node gets `old,new` (still seals with `old`, already accepts `new`);
 * 2. every node gets `new,old` (seals with `new`, still accepts `old`);
 * 3. every node gets `new`.
 *
 * At any moment of a step, every pair of nodes accepts what the other seals, so nobody loses sight of
 * anybody. Skipping step 1 would leave nodes still on `old` alone unable to read nodes already sealing
 * with `new`.
 */
import { ClusterSecretError } from '../errors.js';
import { deriveClusterKeys, type ClusterKeys } from './cluster-keys.js';
import { parseClusterSecrets } from './cluster-secret.js';

/** The derived keys of one or more cluster secrets. */
export class ClusterKeyring {
  /** Every key set, the sealing one first. */
  readonly keys: readonly ClusterKeys[];

  private constructor(keys: ClusterKeys[]) {
    this.keys = Object.freeze(keys);
  }

  /**
   * Builds a keyring from secrets, the sealing one first: encoded text (one, or several separated by commas or
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

  /** The keys that seal: those of the first secret. */
  get current(): ClusterKeys {
    return this.keys[0] as ClusterKeys;
  }

  /** The key sets whose id is `keyId` (normally zero or one; two only on a 32-bit id collision). */
  find(keyId: Buffer): ClusterKeys[] {
    return this.keys.filter((keys) => keys.keyId.equals(keyId));
  }
}
