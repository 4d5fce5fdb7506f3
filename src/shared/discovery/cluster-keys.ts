/**
 * The keys derived from one cluster secret, one per purpose, with HKDF-SHA-256 (RFC 5869) and a distinct
 * `info` label each, so that a key used for one job can never be confused with or help attack another:
 * the AEAD key that seals every datagram, the MAC key of probe answers and the key of the TLS channel
 * proof. The secret itself is not kept.
 *
 * The key id, the only key-related byte string sent in clear, is a short hash of the datagram key: it lets
 * a receiver pick the right key of its keyring without trial decryption, and says nothing about the
 * secret (SHA-256 is one-way) beyond "same cluster".
 */
import { createHash, hkdfSync } from 'node:crypto';

/** Length of every derived key, in bytes. */
export const CLUSTER_KEY_BYTES = 32;
/** Length of a key id, in bytes. */
export const KEY_ID_BYTES = 4;
/** HKDF salt: fixed, names the protocol and its version. */
export const CLUSTER_KEY_SALT = 'inteli-proxy discovery v1';
/** HKDF `info` labels, one per purpose. */
export const CLUSTER_KEY_LABELS = Object.freeze({
  datagram: 'inteli-proxy discovery datagram aead v1',
  probe: 'inteli-proxy discovery probe mac v1',
  proof: 'inteli-proxy discovery channel proof v1',
});
const KEY_ID_LABEL = 'inteli-proxy discovery key id v1';

/** The keys of one secret. */
export interface ClusterKeys {
  /** Short hash of {@link ClusterKeys.datagramKey}, sent in clear in every datagram. */
  readonly keyId: Buffer;
  /** AES-256-GCM key sealing beacons, probe challenges and probe answers. */
  readonly datagramKey: Buffer;
  /** HMAC-SHA-256 key of the MAC inside a probe answer. */
  readonly probeKey: Buffer;
  /** HMAC-SHA-256 key of the TLS channel proof. */
  readonly proofKey: Buffer;
}

function derive(secret: Buffer, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, CLUSTER_KEY_SALT, label, CLUSTER_KEY_BYTES));
}

/** Derives the keys of one (already validated) secret. */
export function deriveClusterKeys(secret: Buffer): ClusterKeys {
  const datagramKey = derive(secret, CLUSTER_KEY_LABELS.datagram);
  const keyId = createHash('sha256').update(KEY_ID_LABEL).update(datagramKey).digest().subarray(0, KEY_ID_BYTES);
  return Object.freeze({
    keyId: Buffer.from(keyId),
    datagramKey,
    probeKey: derive(secret, CLUSTER_KEY_LABELS.probe),
    proofKey: derive(secret, CLUSTER_KEY_LABELS.proof),
  });
}
