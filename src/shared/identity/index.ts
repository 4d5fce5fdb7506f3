/**
 * Public face of identities: ids, Ed25519 JWK keys, fingerprints and control-plane tokens.
 */
export { AGENT_ID_PATTERN, assertValidAgentId, isValidAgentId } from './agent-id.js';
export { parsePrivateJwk, parsePublicJwk, toPublicJwk } from './jwk.js';
export type { Ed25519PrivateJwk, Ed25519PublicJwk } from './jwk.js';
export { generateKeyPair, publicKeyFromPem } from './key-pair.js';
export type { KeyPair } from './key-pair.js';
export { fingerprint } from './fingerprint.js';
export { DEFAULT_TOKEN_TTL_SECONDS, MAX_TOKEN_TTL_SECONDS, signToken } from './sign-token.js';
export type { SignTokenOptions } from './sign-token.js';
