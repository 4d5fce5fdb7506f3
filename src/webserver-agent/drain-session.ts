/**
 * The agent's half of a drain: send `drain`, wait for its `ack`, then for `drained` (every request in
 * flight to this backend finished), bounded by `drainTimeoutMs`. A failure or timeout is logged and the
 * stop goes on: the proxy removes a closed session's backend anyway, only less gracefully.
 */
import type { Logger } from '../shared/logger.js';
import type { ServerMessage } from '../shared/protocol.js';
import type { ControlConnection } from '../shared/control-client/control-connection.js';

/** Drains the session; resolves true when the proxy confirmed `drained` in time. Never rejects. */
export async function drainSession(
  connection: ControlConnection,
  { drainTimeoutMs, requestTimeoutMs }: { drainTimeoutMs: number; requestTimeoutMs: number },
  logger: Logger,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  let onFrame: ((message: ServerMessage) => void) | undefined;
  let onClose: (() => void) | undefined;
  // Listening starts before `drain` is sent: `drained` may follow the ack within the same read.
  const drained = new Promise<boolean>((resolve) => {
    onFrame = (message) => {
      if (message.type === 'drained') resolve(true);
    };
    onClose = () => resolve(false);
    connection.on('frame', onFrame);
    connection.once('close', onClose);
    timer = setTimeout(() => resolve(false), drainTimeoutMs);
  });
  try {
    await connection.request({ type: 'drain' }, Math.min(requestTimeoutMs, Math.max(drainTimeoutMs, 10)));
    const confirmed = await drained;
    if (!confirmed) logger.warn({ drainTimeoutMs }, 'the proxy did not confirm the drain in time; closing anyway');
    return confirmed;
  } catch (error) {
    logger.warn({ err: (error as Error).message }, 'drain failed; closing anyway');
    return false;
  } finally {
    clearTimeout(timer);
    connection.off('frame', onFrame as (message: ServerMessage) => void);
    connection.off('close', onClose as () => void);
  }
}
