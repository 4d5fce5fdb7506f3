/**
 * Zero-configuration discovery on a LAN (docs/discovery.md): authenticated, sealed beacons (multicast or
 * broadcast), unicast probing for networks without multicast, and the TLS channel proof of the cluster
 * secret. Opt-in: nothing here sends or listens unless a cluster secret is given.
 */
export { ClusterKeyring } from './cluster-keyring.js';
export { parseClusterSecret, parseClusterSecrets, readClusterSecretFile, CLUSTER_SECRET_COMMAND, MIN_CLUSTER_SECRET_BYTES } from './cluster-secret.js';
export type { ClusterKeys } from './cluster-keys.js';
export type { Announcement } from './announcement.js';
export { ProxyDiscovery, type ProxyDiscoveryOptions, type ProxyDiscoveryStats } from './proxy-discovery.js';
export { AgentDiscovery, type AgentDiscoveryOptions, type AgentDiscoveryStats } from './agent-discovery.js';
export { BeaconSource } from './beacon-source.js';
export { BeaconSender } from './beacon-sender.js';
export { BeaconReceiver } from './beacon-receiver.js';
export { ProbeResponder } from './probe-responder.js';
export { Prober, type ProberOptions } from './prober.js';
export type { DiscoveredProxy, DiscoveryChannel } from './peer-tracker.js';
export type { DiscoveryOptions } from './discovery-options.js';
export { REFUSAL_REASONS, type RefusalReason, type DiscoveryCountersSnapshot } from './refusal-counters.js';
export { CLUSTER_PROOF_HEADER, deriveChannelProof, verifyChannelProof, exportChannelKeyingMaterial, type ChannelProofRole } from './channel-proof.js';
export { agentChannelProof, answerChannelProof, verifyProxyChannelProof } from './channel-proof-exchange.js';
