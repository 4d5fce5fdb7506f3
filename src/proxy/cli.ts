#!/usr/bin/env node
/**
 * Entry point of `inteli-proxy` (and `npm start`). Configuration: a file (`PROXY_CONFIG=path`, or
 * `inteli.yaml` / `inteli.yml` / `inteli.json` in the working directory), environment variables over it
 * (see `.env.example` and docs/configuration.md). On a terminal it prints a banner and pretty logs
 * (`logFormat`, `LOG_FORMAT`). This file wires `runProxy` to the process: an invalid configuration or a
 * failed start prints one line and exits non-zero, `--check-config` validates and prints the resolved
 * configuration (exit 0 valid, 2 invalid), SIGHUP reloads the configuration, SIGTERM/SIGINT stop
 * gracefully, a second signal exits at once.
 */
import { readVariables } from '../shared/env.js';
import { isProxyError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import type { ClusterPrimary } from './cluster/cluster-primary.js';
import { runCluster } from './cluster/run-cluster.js';
import { commandSettings } from './config/config-options.js';
import { ConfigReloader } from './config/config-reloader.js';
import { type LoadedConfig, loadConfig } from './config/load-config.js';
import { renderConfig } from './config/print-config.js';
import type { ProxyServer } from './proxy-server.js';
import { runProxy } from './run-proxy.js';

const EXIT_CONFIG = 2;
const EXIT_FAILURE = 1;

const USAGE = `usage: inteli-proxy [--check-config]

Configured by a file (PROXY_CONFIG=path, or inteli.yaml / inteli.yml / inteli.json in the working
directory) and environment variables, which override it (or a .env file); see docs/configuration.md.

  --check-config   validate the configuration, print it resolved (secrets masked), exit 0 if valid, 2 if not
  SIGHUP           reload the configuration: live options apply to new requests, others need a restart
`;

function fail(error: unknown, code: number): void {
  const detail = isProxyError(error) ? `${error.message} (${error.code})` : error instanceof Error ? error.message : String(error);
  process.stderr.write(`inteli-proxy: ${detail}\n`);
  process.exitCode = code;
}

function load(): Promise<LoadedConfig> {
  return loadConfig({ variables: readVariables(), cwd: process.cwd() });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const unknown = args.find((arg) => arg !== '--check-config');
  if (unknown !== undefined) {
    fail(new Error(`unknown argument ${JSON.stringify(unknown)}; see --help`), EXIT_CONFIG);
    return;
  }
  let config: LoadedConfig;
  try {
    config = await load();
  } catch (error) {
    fail(error, EXIT_CONFIG);
    return;
  }
  if (args.includes('--check-config')) {
    process.stdout.write(renderConfig(config));
    return;
  }
  const settings = commandSettings(config.values);
  // On a terminal: a banner and pretty logs; piped (systemd, docker, a file): JSON lines, unless asked.
  const pretty = settings.logFormat === 'pretty' || (settings.logFormat === 'auto' && process.stdout.isTTY === true);
  const logger = createLogger({ level: settings.logLevel, format: pretty ? 'pretty' : 'json' });
  const banner = pretty ? (text: string): void => void process.stdout.write(text) : undefined;
  for (const warning of config.warnings) logger.warn({ component: 'config' }, warning);
  // Signals are handled from the first moment: a SIGTERM while the proxy is still starting (a systemd
  // stop, a test) stops it as soon as it is up instead of killing the process mid-write; a SIGHUP then is
  // refused with a log line (Node's default action would end the process).
  let proxy: ProxyServer | ClusterPrimary | undefined;
  let stopping = false;
  const reloader = new ConfigReloader({
    load,
    current: config,
    apply: (live) => (proxy === undefined ? Promise.reject(new Error('the proxy is still starting; send SIGHUP again once it runs')) : proxy.reconfigure(live)),
    logger,
  });
  const stopProxy = (running: { stop(): Promise<void> }): void => {
    reloader.stop();
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
  const reload = (): void => void reloader.reload('SIGHUP');
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.on('SIGHUP', reload);
  // workers > 1: a cluster primary (control plane, admin) and N data-plane workers on shared ports.
  try {
    proxy = settings.workers > 1 ? await runCluster(config, { logger, banner, logFormat: pretty ? 'pretty' : 'json' }) : await runProxy(config, { logger, banner });
  } catch (error) {
    fail(error, EXIT_FAILURE);
    process.off('SIGTERM', shutdown);
    process.off('SIGINT', shutdown);
    process.off('SIGHUP', reload);
    return;
  }
  if (stopping) stopProxy(proxy);
  else reloader.start();
}

void main();
