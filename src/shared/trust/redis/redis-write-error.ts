/**
 * What a failed trust-store write in Redis means for the sysadmin: an existing id (409), Redis out of
 * reach before the script was sent (nothing changed), or a failure after it was sent (the script is
 * atomic, so the change is either fully applied or not at all, but which one is unknown).
 */
import { ClientClosedError, ClientOfflineError, ErrorReply } from 'redis';
import { ProxyError, TrustStoreError } from '../../errors.js';
import { EXISTS_REPLY } from './redis-trust-scripts.js';

/** The coded error for a failed `add`/`remove` of key `id`. */
export function redisWriteError(operation: 'add' | 'remove', id: string, error: unknown): ProxyError {
  if (error instanceof ErrorReply && error.message.startsWith(EXISTS_REPLY)) {
    return new ProxyError('RP_ERR_ALREADY_EXISTS', `a key with id "${id}" already exists (use replace to overwrite it)`);
  }
  const message = (error as Error).message;
  if (error instanceof ClientOfflineError || error instanceof ClientClosedError) {
    return new TrustStoreError(`cannot ${operation} key "${id}": Redis is unreachable (${message}); nothing was changed`, { cause: error });
  }
  return new TrustStoreError(`cannot ${operation} key "${id}" in Redis (${message}); the change is atomic but its outcome is unknown: check with keys list`, {
    cause: error,
  });
}
