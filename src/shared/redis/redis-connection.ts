/**
 * The one place that creates node-redis clients for the fleet. Every client:
 * - reconnects by itself with a capped, jittered backoff (a Redis restart heals without a proxy restart);
 * - refuses commands while disconnected instead of queueing them (`disableOfflineQueue`): a sysadmin
 *   write must fail at once with a clear error, not hang and apply minutes later;
 * - bounds every command (`commandTimeoutMs`, also once sent): a stopped (SIGSTOP) Redis cannot hang a
 *   token check;
 * - logs connection errors once per outage, with the URL's password removed.
 */
import { createClient } from 'redis';
import { TrustStoreError } from '../errors.js';
import type { Logger } from '../logger.js';
import { redactRedisUrl, type ResolvedRedisConnectionOptions } from './redis-options.js';

/** Longest wait between two reconnection attempts, in milliseconds. */
export const MAX_RECONNECT_DELAY_MS = 1000;

function reconnectDelay(retries: number): number {
  // 50, 100, 200, ... capped at 1 s, with up to 20 % jitter so a fleet does not reconnect in lockstep.
  const base = Math.min(50 * 2 ** Math.min(retries, 10), MAX_RECONNECT_DELAY_MS);
  return Math.round(base * (0.8 + Math.random() * 0.2));
}

function makeClient(options: ResolvedRedisConnectionOptions) {
  return createClient({
    url: options.url,
    socket: { connectTimeout: options.connectTimeoutMs, reconnectStrategy: reconnectDelay },
    disableOfflineQueue: true,
    commandOptions: { timeout: options.commandTimeoutMs, rejectInFlight: true },
  });
}

/** A node-redis client as created here. */
export type RedisClient = ReturnType<typeof makeClient>;

/**
 * Creates a client, attaches logging, and connects within `connectTimeoutMs`.
 *
 * @throws {TrustStoreError} naming the (redacted) URL when Redis cannot be reached in time.
 */
export async function connectRedis(options: ResolvedRedisConnectionOptions, logger: Logger): Promise<RedisClient> {
  const client = makeClient(options);
  const where = redactRedisUrl(options.url);
  let down = false;
  // Without an 'error' listener node-redis would crash the process on the first refused connection.
  client.on('error', (error: Error) => {
    if (down) return;
    down = true;
    logger.warn({ redis: where, err: error.message }, 'Redis connection lost; reconnecting');
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info({ redis: where }, 'Redis connection back');
  });
  let timer: NodeJS.Timeout | undefined;
  const connecting = client.connect();
  // Destroying the client on timeout rejects this promise after the race is settled; that is expected.
  connecting.catch(() => undefined);
  try {
    await Promise.race([
      connecting,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new TrustStoreError(`cannot reach Redis at ${where} within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
      }),
    ]);
  } catch (error) {
    client.destroy();
    if (error instanceof TrustStoreError) throw error;
    throw new TrustStoreError(`cannot reach Redis at ${where}: ${(error as Error).message}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
  return client;
}

/** Closes a client at once (pending and blocked commands reject). Never throws. */
export function closeRedis(client: RedisClient | undefined): void {
  if (client === undefined) return;
  try {
    client.destroy();
  } catch {
    // Already closed.
  }
}
