/**
 * Child processes of the hostile suite. The sources are compiled once into
 * `node_modules/.cache/inteli-hostile-dist-<hash of the checkout>` (so package imports resolve, and `dist/` is left alone),
 * again only when a file under `src/` is newer; the fixtures in `test/hostile/fixtures/` import it.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { withTimeout } from './control-plane-client.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
/**
 * Where the compiled sources for child processes go: one directory per checkout, since several git
 * worktrees may share one `node_modules` (a symlink) and must not run each other's builds.
 */
export const CHILD_DIST = join(ROOT, 'node_modules', '.cache', `inteli-hostile-dist-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}`);
const FIXTURES = join(ROOT, 'test', 'hostile', 'fixtures');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Compiles `src/` for the children unless the build is newer than every source file. */
export function ensureChildBuild(): void {
  const marker = join(CHILD_DIST, 'src', 'index.js');
  if (existsSync(marker) && statSync(marker).mtimeMs > newestMtime(join(ROOT, 'src'))) return;
  try {
    // Bounded below the 60 s of the beforeAll that calls this, so a stuck compiler cannot outlive it.
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', CHILD_DIST], { stdio: 'pipe', timeout: 50_000, killSignal: 'SIGKILL' });
  } catch (error) {
    // tsc emits despite type errors (another change in progress); the children only need the output.
    // A compiler killed at the timeout emitted nothing reliable.
    if ((error as NodeJS.ErrnoException).code === 'ETIMEDOUT') throw error;
  }
}

/** Forks a fixture script with IPC. */
export function forkFixture(name: string, args: string[], execArgv: string[] = []): ChildProcess {
  const child = fork(join(FIXTURES, name), [CHILD_DIST, ...args], { execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  child.on('error', () => undefined);
  return child;
}

/** The next IPC message of `child` that matches. */
export function nextMessage<T>(child: ChildProcess, match: (message: T) => boolean, ms = 15_000, what = 'a child message'): Promise<T> {
  let listener: ((message: unknown) => void) | undefined;
  return withTimeout(
    new Promise<T>((resolveMessage) => {
      listener = (message: unknown) => {
        if (match(message as T)) resolveMessage(message as T);
      };
      child.on('message', listener);
    }),
    ms,
    what,
  ).finally(() => {
    if (listener !== undefined) child.off('message', listener);
  });
}

/** Kills a child (if alive) and waits for its exit. */
export async function killChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  child.kill(signal);
  await exited;
}
