/**
 * The child side of {@link startChild}: reads the JSON argument, reports ready or a startup error, and runs
 * a cleanup function when the parent asks to stop or goes away (so no participant outlives the bench).
 */

/** The JSON argument the parent passed to this child. */
export function childArgs<T>(): T {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('bench child started without its JSON argument');
  return JSON.parse(raw) as T;
}

/** Sends a typed message to the parent. */
export function sendToParent(type: string, payload: unknown): void {
  if (process.send !== undefined && process.connected) process.send({ type, payload });
  // Started by hand (no IPC, e.g. under perf or strace): say it on stdout instead.
  else if (process.send === undefined) console.log(JSON.stringify({ type, payload }));
}

/**
 * Runs `main`, reports its result as `ready`, and calls the returned cleanup on `stop`, on parent
 * disconnect or on SIGTERM, then exits with code 0 (a clean exit is what makes `--cpu-prof` write its file).
 */
export function runChild<T>(main: () => Promise<{ ready: T; stop: () => Promise<void> }>): void {
  let stopping = false;
  let cleanup: (() => Promise<void>) | undefined;
  const finish = (): void => {
    if (stopping) return;
    stopping = true;
    const done = cleanup === undefined ? Promise.resolve() : cleanup();
    const guard = setTimeout(() => process.exit(0), 4_000);
    done.then(
      () => {
        clearTimeout(guard);
        process.exit(0);
      },
      () => process.exit(1),
    );
  };
  process.on('message', (message: unknown) => {
    if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'stop') finish();
  });
  process.on('disconnect', finish);
  process.on('SIGTERM', finish);
  main().then(
    ({ ready, stop }) => {
      cleanup = stop;
      sendToParent('ready', ready);
    },
    (error: unknown) => {
      sendToParent('error', error instanceof Error ? (error.stack ?? error.message) : String(error));
      process.exitCode = 1;
      setTimeout(() => process.exit(1), 100);
    },
  );
}
