/**
 * The key id a bearer token CLAIMS (its `sub`), read without verifying anything. It is used only to pick
 * the admission budget of a handshake before the (more expensive) verification starts: a token that
 * names no trusted key is an "unknown" caller and waits in a smaller share of the pending handshakes, so
 * a flood of strangers cannot starve the agents the proxy knows (issue 18). A forged token naming a
 * known id gains nothing but a place in the queue: verification still refuses it.
 */
import { decodeJwt } from 'jose';
import { isValidAgentId } from '../../shared/identity/agent-id.js';
import { extractBearer } from './token-verifier.js';

/** Longest token decoded for this purpose; a longer one is simply "unknown". */
const MAX_CLAIM_TOKEN_LENGTH = 4096;

/** The `sub` claim of the request's bearer token when it is a valid id, else undefined. Never throws. */
export function claimedKeyId(authorization: string | undefined): string | undefined {
  const token = extractBearer(authorization);
  if (token === undefined || token.length > MAX_CLAIM_TOKEN_LENGTH) return undefined;
  try {
    const sub = decodeJwt(token).sub;
    return isValidAgentId(sub) ? sub : undefined;
  } catch {
    return undefined;
  }
}
