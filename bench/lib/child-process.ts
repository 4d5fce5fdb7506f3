/**
 * Starts a bench participant (backend, proxy, load generator) in its own Node process and talks to it over
 * IPC. Each participant runs in a child so that its CPU time and RSS can be read from /proc and so that it
 * never shares an event loop with the load generator or the backends.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Message a child sends once it is ready; `payload` is whatever the child wants to report. */
export interface ReadyMessage<T> {
  readonly type: 'ready';
  readonly payload: T;
}

/** A started child process. */
export interface ChildHandle<T> {
  /** Process id, for CPU and RSS sampling. */
  readonly pid: number;
  /** What the child reported when it became ready. */
  readonly ready: T;
  /** Sends a message to the child. */
  send(message: unknown): void;
  /** Waits for the next message of the given type (used for request/response exchanges). */
  next<R>(type: string, timeoutMs: number): Promise<R>;
  /** Calls `listener` with the payload of every message of the given type (none is missed). */
  on<R>(type: string, listener: (payload: R) => void): void;
  /** Asks the child to stop and waits for its exit; kills it after `DEFAULT_STOP_TIMEOUT_MS`. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startChild}. */
export interface StartChildOptions {
  /** Extra Node flags, e.g. `--cpu-prof`. Default: none. */
  readonly execArgv?: readonly string[];
  /** Milliseconds to wait for the ready message. Default: {@link DEFAULT_READY_TIMEOUT_MS}. */
  readonly readyTimeoutMs?: number;
}

/** How long a child may take to report ready. */
export const DEFAULT_READY_TIMEOUT_MS = 15_000;
/** How long a child may take to exit after `stop` before it is killed. */
export const DEFAULT_STOP_TIMEOUT_MS = 5_000;

function isTyped(value: unknown): value is { type: string; payload?: unknown } {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

/** Forks `script` (a compiled .js file next to the caller) with JSON arguments and waits until it is ready. */
export function startChild<T>(script: URL, args: unknown, options: StartChildOptions = {}): Promise<ChildHandle<T>> {
  const child = fork(fileURLToPath(script), [JSON.stringify(args)], {
    execArgv: [...(options.execArgv ?? [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ type: 'stop' });
      else child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), DEFAULT_STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };
  const next = <R>(type: string, timeoutMs: number): Promise<R> =>
    new Promise<R>((resolve, reject) => {
      const onMessage = (message: unknown): void => {
        if (!isTyped(message)) return;
        if (message.type === 'error') {
          cleanup();
          reject(new Error(`child ${script.pathname}: ${String(message.payload)}`));
        } else if (message.type === type) {
          cleanup();
          resolve(message.payload as R);
        }
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`child ${script.pathname} exited (code ${code}) before '${type}'`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`child ${script.pathname}: no '${type}' within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  return next<T>('ready', options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS).then(
    (ready) => ({
      pid: child.pid ?? -1,
      ready,
      send: (message: unknown) => {
        if (child.connected) child.send(message as object);
      },
      next,
      on: <R>(type: string, listener: (payload: R) => void) => {
        child.on('message', (message: unknown) => {
          if (isTyped(message) && message.type === type) listener(message.payload as R);
        });
      },
      stop,
    }),
    async (error: unknown) => {
      await stop();
      throw error;
    },
  );
}
