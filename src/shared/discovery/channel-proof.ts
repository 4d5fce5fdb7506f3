/**
 * The channel proof: how an agent that found a proxy by discovery (no pin, no CA) and the proxy prove to
 * each other that both hold the cluster secret, bound to their one TLS connection, before the agent sends
 * anything that matters.
 *
 * Both ends export the same keying material from the TLS session (RFC 5705 / RFC 8446 §7.5,
 * `tlsSocket.exportKeyingMaterial`), which no one else can compute: a man in the middle has two TLS
 * sessions with two different exports. Each side sends
 *
 *     proof = key id (hex) "." base64url( HMAC-SHA-256(proof key, label | role | export) )
 *
 * with its role (`agent` or `proxy`) inside the MAC, so a proof cannot be reflected back. The proxy
 * answers with the key the agent used (so a node still on the old secret of a rotation verifies it), and
 * only after the agent's proof verified, so a fake agent gets no proof to study either.
 *
 * The proofs travel in HTTP headers of the WebSocket upgrade ({@link CLUSTER_PROOF_HEADER}):
 * the agent adds its proof to the upgrade request (computed from its socket's export once TLS is up, e.g.
 * in ws's `finishRequest`), the proxy verifies it from its side's export in the `upgrade` handler before
 * anything else and returns its own proof in the 101 response (ws's `headers` event); the agent verifies
 * that before it sends a single frame. See docs/discovery.md.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { TlsError } from '../errors.js';
import type { ClusterKeyring } from './cluster-keyring.js';
import { KEY_ID_BYTES, type ClusterKeys } from './cluster-keys.js';

/** The HTTP header that carries a proof, both ways. */
export const CLUSTER_PROOF_HEADER = 'x-inteli-cluster-proof';
/** The exporter label (RFC 5705 reserves the `EXPORTER` prefix for this use). */
export const CHANNEL_PROOF_EXPORT_LABEL = 'EXPORTER-inteli-proxy-cluster-proof';
/** The exporter context: fixed, names the protocol version. */
export const CHANNEL_PROOF_EXPORT_CONTEXT = Buffer.from('inteli-proxy discovery v1');
/** Bytes of keying material exported. */
export const CHANNEL_PROOF_EXPORT_BYTES = 32;
const MAC_LABEL = 'inteli-proxy channel proof v1\0';
const PROOF = /^([0-9a-f]{8})\.([A-Za-z0-9_-]{43})$/;

/** Who sends a proof. */
export type ChannelProofRole = 'agent' | 'proxy';

/**
 * True once the TLS handshake of `socket` completed (a Finished message was sent), whether or not its
 * `secureConnect` event already fired: a verified connector may hand over a socket after that event.
 */
export function isTlsEstablished(socket: TLSSocket): boolean {
  return typeof socket.getFinished === 'function' && socket.getFinished() !== undefined;
}

/**
 * Exports this TLS session's keying material for the proof (the same bytes on both ends).
 *
 * @throws {TlsError} when the socket has no TLS 1.2+ session (not connected, or an old protocol).
 */
export function exportChannelKeyingMaterial(socket: TLSSocket): Buffer {
  if (!isTlsEstablished(socket)) throw new TlsError('no channel proof before the TLS handshake completed');
  const protocol = socket.getProtocol();
  // TLS 1.2 exports are safe only with the extended master secret, which OpenSSL always negotiates; older
  // protocols are refused outright.
  if (protocol !== 'TLSv1.3' && protocol !== 'TLSv1.2') throw new TlsError(`no channel proof over ${protocol ?? 'a socket without TLS'}`);
  try {
    return socket.exportKeyingMaterial(CHANNEL_PROOF_EXPORT_BYTES, CHANNEL_PROOF_EXPORT_LABEL, CHANNEL_PROOF_EXPORT_CONTEXT);
  } catch (error) {
    throw new TlsError('cannot export TLS keying material for the channel proof', { cause: error });
  }
}

/** Computes the proof `role` sends over the session whose export is `ekm`, with one key set. */
export function deriveChannelProof(keys: ClusterKeys, ekm: Buffer, role: ChannelProofRole): string {
  const mac = createHmac('sha256', keys.proofKey).update(MAC_LABEL).update(role).update('\0').update(ekm).digest('base64url');
  return `${keys.keyId.toString('hex')}.${mac}`;
}

/**
 * Verifies the proof `role` sent over the session whose export is `ekm`: the key set of the keyring that
 * it verifies with, or undefined (malformed, unknown key, wrong session, wrong role). Constant time in
 * the MAC; never throws.
 */
export function verifyChannelProof(keyring: ClusterKeyring, ekm: Buffer, role: ChannelProofRole, proof: unknown): ClusterKeys | undefined {
  if (typeof proof !== 'string') return undefined;
  const match = PROOF.exec(proof);
  if (match === null) return undefined;
  const keyId = Buffer.from(match[1] as string, 'hex');
  if (keyId.length !== KEY_ID_BYTES) return undefined;
  const given = Buffer.from(proof);
  for (const keys of keyring.find(keyId)) {
    const expected = Buffer.from(deriveChannelProof(keys, ekm, role));
    if (expected.length === given.length && timingSafeEqual(expected, given)) return keys;
  }
  return undefined;
}
