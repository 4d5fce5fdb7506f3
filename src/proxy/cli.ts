#!/usr/bin/env node
/**
 * Entry point of `inteli-proxy` (and `npm start`). Configuration comes from the environment only (see
 * `.env.example`); on a terminal it prints a banner and pretty logs (`LOG_FORMAT`); this file wires `runProxy` to the process: a bad variable or a failed start prints one
 * line and exits non-zero, SIGTERM/SIGINT stop gracefully, a second signal exits at once.
 */
import { loadEnv } from '../shared/env.js';
import { isProxyError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { runCluster } from './cluster/run-cluster.js';
import { runProxy } from './run-proxy.js';

const EXIT_CONFIG = 2;
const EXIT_FAILURE = 1;

function fail(error: unknown, code: number): void {
  const detail = isProxyError(error) ? `${error.message} (${error.code})` : error instanceof Error ? error.message : String(error);
  process.stderr.write(`inteli-proxy: ${detail}\n`);
  process.exitCode = code;
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write('usage: inteli-proxy\n\nConfigured by environment variables (or a .env file); see .env.example.\n');
    return;
  }
  let env;
  try {
    env = loadEnv();
  } catch (error) {
    fail(error, EXIT_CONFIG);
    return;
  }
  // On a terminal: a banner and pretty logs; piped (systemd, docker, a file): JSON lines, unless asked.
  const pretty = env.logFormat === 'pretty' || (env.logFormat === 'auto' && process.stdout.isTTY === true);
  const logger = createLogger({ level: env.logLevel, format: pretty ? 'pretty' : 'json' });
  const banner = pretty ? (text: string): void => void process.stdout.write(text) : undefined;
  // Signals are handled from the first moment: a SIGTERM while the proxy is still starting (a systemd
  // stop, a test) stops it as soon as it is up instead of killing the process mid-write.
  let proxy: { stop(): Promise<void> } | undefined;
  let stopping = false;
  const stopProxy = (running: { stop(): Promise<void> }): void => {
    running.stop().then(
      () => logger.info('stopped'),
      (error: unknown) => fail(error, EXIT_FAILURE),
    );
  };
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    logger.info({ signal }, 'stopping: finishing in-flight requests');
    if (proxy !== undefined) stopProxy(proxy);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // PROXY_WORKERS > 1: a cluster primary (control plane, admin) and N data-plane workers on shared ports.
  try {
    proxy = env.workers > 1 ? await runCluster(env, { logger, banner, logFormat: pretty ? 'pretty' : 'json' }) : await runProxy(env, { logger, banner });
  } catch (error) {
    fail(error, EXIT_FAILURE);
    process.off('SIGTERM', shutdown);
    process.off('SIGINT', shutdown);
    return;
  }
  if (stopping) stopProxy(proxy);
}

void main();
