/**
 * A bounded load generator: `concurrency` keep-alive workers send GETs until the request budget is
 * spent, `deadlineMs` passes or `stop()` is called. Every request carries a unique id in the
 * {@link LOAD_ID_HEADER} header, so a test can hand `stop()` the ids its backends saw: a request the
 * proxy forwarded was accepted, and must have been answered whatever the client-side error looks like.
 * Every outcome is counted: answered (by status), refused (the connection was refused, or a reused
 * keep-alive socket was closed before the request was read: never accepted), and lost (accepted but
 * never answered). Counts go to the tally when `stop()` returns.
 */
import http from 'node:http';
import { withTimeout } from './control-plane-client.js';
import { tally } from './hostile-tally.js';

/** Request header carrying the id of each request (`<n>`, unique within one load). */
export const LOAD_ID_HEADER = 'x-load-id';

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
  /**
   * Requests a backend saw (the ids given to `stop()`) that got no answer: counted in `lost` (and no
   * longer in `refused` or `resetWhileStopping`, whatever the client-side error looked like).
   */
  acceptedUnanswered: number;
  errors: string[];
}

/** A running load. */
export interface Load {
  readonly result: LoadResult;
  /** Marks the start of a proxy stop (fresh-connection resets from then on are counted apart). */
  stopping(): void;
  /** Resolves once `count` requests were answered in all; rejects after `ms` naming `what`. */
  answered(count: number, ms: number, what: string): Promise<void>;
  /**
   * Stops sending; resolves when every worker finished its last request. `accepted` are the ids
   * ({@link LOAD_ID_HEADER}) the backends saw: each must have been answered, else it counts as lost.
   */
  stop(accepted?: Iterable<string>): Promise<LoadResult>;
}

type Outcome = { status: number } | { error: string; reused: boolean; code: string };

function once(agent: http.Agent, port: number, path: string, id: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers: { [LOAD_ID_HEADER]: id } }, (res) => {
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
  const result: LoadResult = { sent: 0, answered: 0, ok2xx: 0, non2xx: 0, statuses: {}, refused: 0, resetWhileStopping: 0, lost: 0, acceptedUnanswered: 0, errors: [] };
  /** How each unanswered request was classified, by id (answered ones are not kept). */
  const unanswered = new Map<string, { kind: 'refused' | 'resetWhileStopping' | 'lost'; error: string }>();
  const waiters = new Set<{ count: number; resolve: () => void }>();
  let proxyStopping = false;
  const deadline = Date.now() + (options.deadlineMs ?? 60_000);
  let stopped = false;
  const worker = async (): Promise<void> => {
    while (!stopped && result.sent < options.budget && Date.now() < deadline) {
      result.sent += 1;
      const id = String(result.sent);
      const outcome = await once(agent, options.port, options.path, id);
      if ('status' in outcome) {
        result.answered += 1;
        result.statuses[outcome.status] = (result.statuses[outcome.status] ?? 0) + 1;
        if (outcome.status >= 200 && outcome.status < 300) result.ok2xx += 1;
        else result.non2xx += 1;
        for (const waiter of waiters) {
          if (result.answered >= waiter.count) {
            waiters.delete(waiter);
            waiter.resolve();
          }
        }
      } else {
        const error = `${outcome.code} ${outcome.error}`;
        if (outcome.code === 'ECONNREFUSED' || (outcome.reused && (outcome.code === 'ECONNRESET' || outcome.error === 'socket hang up'))) {
          result.refused += 1;
          unanswered.set(id, { kind: 'refused', error });
        } else if (proxyStopping && !outcome.reused && outcome.code === 'ECONNRESET') {
          result.resetWhileStopping += 1;
          unanswered.set(id, { kind: 'resetWhileStopping', error });
        } else {
          result.lost += 1;
          unanswered.set(id, { kind: 'lost', error });
          if (result.errors.length < 10) result.errors.push(error);
        }
      }
      if (options.pauseMs !== undefined && options.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  };
  const finished = Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker)).then(() => {
    agent.destroy();
  });
  let stopping: Promise<LoadResult> | undefined;
  return {
    result,
    stopping: () => {
      proxyStopping = true;
    },
    answered: (count, ms, what) => {
      if (result.answered >= count) return Promise.resolve();
      let waiter: { count: number; resolve: () => void } | undefined;
      return withTimeout(
        new Promise<void>((resolve) => {
          waiter = { count, resolve };
          waiters.add(waiter);
        }),
        ms,
        what,
      ).finally(() => {
        if (waiter !== undefined) waiters.delete(waiter);
      });
    },
    stop: (accepted = []) => {
      stopped = true;
      stopping ??= finished.then(() => {
        // A request a backend saw was accepted by the proxy: an error on it is a loss, never a refusal.
        for (const id of accepted) {
          const entry = unanswered.get(id);
          if (entry === undefined || entry.kind === 'lost') continue;
          result[entry.kind] -= 1;
          result.lost += 1;
          result.acceptedUnanswered += 1;
          if (result.errors.length < 10) result.errors.push(`accepted request ${id}: ${entry.error}`);
        }
        tally({ sent: result.sent, answered: result.answered, lost: result.lost, refused: result.refused + result.resetWhileStopping });
        return result;
      });
      return stopping;
    },
  };
}
