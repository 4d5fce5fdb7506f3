/**
 * The three steps of the channel-proof exchange on live TLS sockets, for the WebSocket upgrade (see
 * channel-proof.ts): the agent's proof for its request, the proxy's check and answer, the agent's check
 * of the answer. Each step works on the socket it is given, so a proof can never be computed for one
 * connection and used on another.
 */
import type { TLSSocket } from 'node:tls';
import type { ClusterKeyring } from './cluster-keyring.js';
import type { ClusterKeys } from './cluster-keys.js';
import { deriveChannelProof, exportChannelKeyingMaterial, verifyChannelProof } from './channel-proof.js';

/**
 * Agent, step 1: the proof to send on `socket` (under the keyring's sealing (first) key).
 *
 * @throws {TlsError} when the socket has no usable TLS session.
 */
export function agentChannelProof(keyring: ClusterKeyring, socket: TLSSocket): string {
  return deriveChannelProof(keyring.current, exportChannelKeyingMaterial(socket), 'agent');
}

/**
 * Proxy, step 2: verifies the agent's proof received on `socket`; returns the proxy's proof to send back
 * (under the key the agent used), or undefined when the agent's proof does not verify (refuse the upgrade).
 * Never throws.
 */
export function answerChannelProof(keyring: ClusterKeyring, socket: TLSSocket, agentProof: unknown): string | undefined {
  let ekm: Buffer;
  try {
    ekm = exportChannelKeyingMaterial(socket);
  } catch {
    return undefined;
  }
  const keys = verifyChannelProof(keyring, ekm, 'agent', agentProof);
  return keys === undefined ? undefined : deriveChannelProof(keys, ekm, 'proxy');
}

/**
 * Agent, step 3: true when the proxy's answer on `socket` proves the secret. Send nothing on the
 * connection until this returned true. Never throws.
 */
export function verifyProxyChannelProof(keyring: ClusterKeyring, socket: TLSSocket, proxyProof: unknown): boolean {
  let ekm: Buffer;
  try {
    ekm = exportChannelKeyingMaterial(socket);
  } catch {
    return false;
  }
  const keys: ClusterKeys | undefined = verifyChannelProof(keyring, ekm, 'proxy', proxyProof);
  return keys !== undefined;
}
