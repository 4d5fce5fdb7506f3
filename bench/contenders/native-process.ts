/** Helpers for peers that are native executables (nginx, HAProxy) rather than Node children. */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

/** How long a native peer may take to start listening. */
const START_TIMEOUT_MS = 10_000;
/** How long it may take to exit on its graceful signal before SIGKILL. */
const STOP_TIMEOUT_MS = 5_000;

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function tail(logPath: string): string {
  try {
    return readFileSync(logPath, 'utf8').trim().split('\n').slice(-2).join(' | ');
  } catch {
    return 'no log';
  }
}

/**
 * Resolves when `port` accepts connections; rejects when `child` exits first or the timeout passes, with
 * the last lines of `logPath` in the message.
 */
export async function waitForPort(child: ChildProcess, port: number, logPath: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  child.once('error', () => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${child.spawnfile} exited before listening on ${port}: ${tail(logPath)}`);
    if (await canConnect(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stopProcess(child, 'SIGKILL');
  throw new Error(`${child.spawnfile} did not listen on ${port} within ${START_TIMEOUT_MS} ms: ${tail(logPath)}`);
}

/** Sends `signal`, waits for the exit, escalates to SIGKILL after a bound. Safe to call twice. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
