/**
 * A bounded load generator: `concurrency` keep-alive workers send GETs until the request budget is
 * spent, `deadlineMs` passes or `stop()` is called. Every outcome is counted: answered (by status),
 * refused (the connection was refused, or a reused keep-alive socket was closed before the request was
 * read: never accepted), and lost (accepted but never answered). Counts go to the tally.
 */
import http from 'node:http';
import { tally } from './hostile-tally.js';

/** Options of {@link startLoad}. */
export interface LoadOptions {
  port: number;
  path: string;
  /** Most requests sent. */
  budget: number;
  /** Parallel workers. Default 8. */
  concurrency?: number;
  /** Hard stop, in ms. Default 60000. */
  deadlineMs?: number;
  /** Pause between a worker's requests, in ms. Default 0. */
  pauseMs?: number;
}

/** Outcome counts of a load run. */
export interface LoadResult {
  sent: number;
  answered: number;
  ok2xx: number;
  non2xx: number;
  statuses: Record<number, number>;
  refused: number;
  /**
   * Fresh connections reset before any answer byte while the proxy was stopping (`stopping()` was
   * called): the kernel or the listener took the connection but the proxy never read the request.
   */
  resetWhileStopping: number;
  lost: number;
  errors: string[];
}

/** A running load. */
export interface Load {
  readonly result: LoadResult;
  /** Marks the start of a proxy stop (fresh-connection resets from then on are counted apart). */
  stopping(): void;
  /** Stops sending; resolves when every worker finished its last request. */
  stop(): Promise<LoadResult>;
  /** Resolves when the budget or the deadline ends the run. */
  done: Promise<LoadResult>;
}

function once(agent: http.Agent, port: number, path: string): Promise<{ status: number } | { error: string; reused: boolean; code: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.message, reused: false, code: error.code ?? '' }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.message, reused: req.reusedSocket, code: error.code ?? '' }));
  });
}

/** Starts the load at once. */
export function startLoad(options: LoadOptions): Load {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency ?? 8 });
  const result: LoadResult = { sent: 0, answered: 0, ok2xx: 0, non2xx: 0, statuses: {}, refused: 0, resetWhileStopping: 0, lost: 0, errors: [] };
  let proxyStopping = false;
  const deadline = Date.now() + (options.deadlineMs ?? 60_000);
  let stopped = false;
  const worker = async (): Promise<void> => {
    while (!stopped && result.sent < options.budget && Date.now() < deadline) {
      result.sent += 1;
      const outcome = await once(agent, options.port, options.path);
      if ('status' in outcome) {
        result.answered += 1;
        result.statuses[outcome.status] = (result.statuses[outcome.status] ?? 0) + 1;
        if (outcome.status >= 200 && outcome.status < 300) result.ok2xx += 1;
        else result.non2xx += 1;
      } else if (outcome.code === 'ECONNREFUSED' || (outcome.reused && (outcome.code === 'ECONNRESET' || outcome.error === 'socket hang up'))) {
        result.refused += 1;
      } else if (proxyStopping && !outcome.reused && outcome.code === 'ECONNRESET') {
        result.resetWhileStopping += 1;
      } else {
        result.lost += 1;
        if (result.errors.length < 10) result.errors.push(`${outcome.code} ${outcome.error}`);
      }
      if (options.pauseMs !== undefined && options.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  };
  const done = Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker)).then(() => {
    agent.destroy();
    tally({ sent: result.sent, answered: result.answered, lost: result.lost, refused: result.refused + result.resetWhileStopping });
    return result;
  });
  return {
    result,
    done,
    stopping: () => {
      proxyStopping = true;
    },
    stop: () => {
      stopped = true;
      return done;
    },
  };
}
