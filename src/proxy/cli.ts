#!/usr/bin/env node
/**
 * Entry point of `inteli-proxy` (and `npm start`). Configuration comes from the environment only (see
 * `.env.example`); this file wires `runProxy` to the process: a bad variable or a failed start prints one
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
  const logger = createLogger({ level: env.logLevel });
  // PROXY_WORKERS > 1: a cluster primary (control plane, admin) and N data-plane workers on shared ports.
  let proxy: { stop(): Promise<void> };
  try {
    proxy = env.workers > 1 ? await runCluster(env, { logger }) : await runProxy(env, { logger });
  } catch (error) {
    fail(error, EXIT_FAILURE);
    return;
  }
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    logger.info({ signal }, 'stopping: finishing in-flight requests');
    proxy.stop().then(
      () => logger.info('stopped'),
      (error: unknown) => fail(error, EXIT_FAILURE),
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

void main();
