/**
 * A real `redis-server` (Debian's package) for tests: started on a free loopback port in its own temp
 * directory with `appendonly yes` and `appendfsync always` (so an acknowledged write survives `kill -9`,
 * the promise the fleet makes), no RDB snapshots, no system service. One per test file: start it in
 * `beforeAll`, `close()` it in `afterAll`. `kill()` and `restart()` keep the port and the data directory,
 * for crash tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Where Debian installs the server; `REDIS_SERVER` overrides it. */
export const REDIS_SERVER_BIN = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

/** How long start, readiness and stop may take before the helper gives up, in milliseconds. */
const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Sends one inline command and resolves with the first reply line (e.g. `+PONG`), or rejects. */
export function rawCommand(port: number, command: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis on ${port} did not answer ${command} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      const end = buffer.indexOf('\r\n');
      if (end < 0) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(buffer.slice(0, end));
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** A running (or killed) redis-server owned by one test file. */
export class RedisServerFixture {
  readonly dir: string;
  readonly port: number;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #log = '';

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  /** Starts a server on a free port in a new temp dir and waits until it answers PING. */
  static async start(): Promise<RedisServerFixture> {
    if (!existsSync(REDIS_SERVER_BIN)) {
      throw new Error(`${REDIS_SERVER_BIN} not found: install Debian's redis-server (apt-get install --no-install-recommends redis-server; .ci/run does) or set REDIS_SERVER`);
    }
    const dir = await mkdtemp(path.join(os.tmpdir(), 'inteli-redis-'));
    // A port taken between probing and binding is rare; try a few.
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const fixture = new RedisServerFixture(dir, await freePort());
      try {
        await fixture.#spawn();
        return fixture;
      } catch (error) {
        lastError = error;
        await fixture.kill();
      }
    }
    await rm(dir, { recursive: true, force: true });
    throw lastError;
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** The server's own log, for assertion messages. */
  get log(): string {
    return this.#log;
  }

  /** SIGKILL (no shutdown, no final fsync beyond `appendfsync always`) and waits for the exit. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    child.kill('SIGKILL');
    await this.#exited;
  }

  /** SIGTERM (a clean shutdown), escalating to SIGKILL after a bound. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Starts the server again on the same port with the same data directory (after kill or stop). */
  async restart(): Promise<void> {
    if (this.#child !== undefined) await this.kill();
    await this.#spawn();
  }

  /** Stops the server and removes its directory. Idempotent. */
  async close(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  async #spawn(): Promise<void> {
    const child = spawn(
      REDIS_SERVER_BIN,
      [
        '--port', String(this.port),
        '--bind', '127.0.0.1',
        '--dir', this.dir,
        '--appendonly', 'yes',
        '--appendfsync', 'always',
        '--save', '',
        '--daemonize', 'no',
        '--protected-mode', 'yes',
        '--loglevel', 'warning',
        '--logfile', '',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    child.stdout.on('data', (chunk: Buffer) => {
      this.#log = (this.#log + chunk.toString('utf8')).slice(-8192);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.#log = (this.#log + chunk.toString('utf8')).slice(-8192);
    });
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
      child.once('error', () => {
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (this.#child !== child) throw new Error(`redis-server exited during start on port ${this.port}: ${this.#log}`);
      try {
        const reply = await rawCommand(this.port, 'PING', 500);
        // While it loads the append-only file the server answers -LOADING: not ready yet.
        if (reply === '+PONG') return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} not ready after ${READY_TIMEOUT_MS} ms: ${this.#log}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
