/**
 * The `inteli-agent` sidecar: registers an existing server with the proxy, keeps it registered, and on
 * SIGTERM/SIGINT drains it (the proxy stops routing to it and waits for in-flight requests) before
 * returning 0. It does not own the server, so it never closes it. Testable in-process: no
 * `process.exit`, and the signal source is injectable.
 */
import type { EventEmitter } from 'node:events';
import { ClusterSecretError, isProxyError } from '../shared/errors.js';
import { readClusterSecretEnv } from '../shared/env.js';
import { CLUSTER_SECRET_COMMAND, readClusterSecretFile } from '../shared/discovery/cluster-secret.js';
import type { AgentDiscoveryOptions } from '../shared/discovery/agent-discovery.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { AGENT_CLI_HELP, parseAgentArgs, type AgentCliConfig } from './agent-cli-args.js';
import { ProxyWebServer } from './proxy-web-server.js';

/** Where the sidecar writes its one-line messages (`process.stdout`/`process.stderr` fit). */
export interface AgentCliIo {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
}

/** Test seams of {@link runAgentCli}. */
export interface AgentCliDependencies {
  /** Where SIGTERM/SIGINT come from. Default `process`. */
  signals?: Pick<EventEmitter, 'on' | 'off'>;
  /** Logger. Default a pino logger on stdout at `--log-level`. */
  logger?: Logger;
  /** Called once registered (tests wait on it). */
  onRegistered?: (agent: ProxyWebServer) => void;
  /** Where `--discover` reads `INTELI_CLUSTER_SECRET[_FILE]`. Default `process.env` (through env.ts). */
  env?: Readonly<Record<string, string | undefined>>;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
const PROGRAM = 'inteli-agent';

function oneLine(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  return isProxyError(error) ? `${message} [${error.code}]` : message;
}

/** The discovery options of `--discover`: the secret from the environment, inline or from its file. */
async function discoveryOptions(discover: NonNullable<AgentCliConfig['discover']>, env: AgentCliDependencies['env']): Promise<AgentDiscoveryOptions> {
  const cluster = readClusterSecretEnv('agent', env);
  let secret: string | Buffer[];
  if (cluster.secret !== undefined) secret = cluster.secret;
  else if (cluster.secretFile !== undefined) secret = await readClusterSecretFile(cluster.secretFile);
  else throw new ClusterSecretError(`--discover needs INTELI_CLUSTER_SECRET or INTELI_CLUSTER_SECRET_FILE; make a secret with: ${CLUSTER_SECRET_COMMAND}`);
  return { secret, ...discover };
}

/**
 * Runs the sidecar with `argv` (without `node` and the script). Resolves with the exit code: 0 after a
 * signal-triggered drain, 1 when the first registration fails, 2 for bad flags.
 */
export async function runAgentCli(argv: readonly string[], io: AgentCliIo, dependencies: AgentCliDependencies = {}): Promise<number> {
  let config: AgentCliConfig;
  try {
    config = parseAgentArgs(argv);
  } catch (error) {
    io.stderr.write(`${PROGRAM}: ${oneLine(error)}\n`);
    return 2;
  }
  if (config.help || config.options === undefined) {
    io.stdout.write(`${AGENT_CLI_HELP}\n`);
    return 0;
  }
  const logger = dependencies.logger ?? createLogger({ level: config.logLevel });
  const signals = dependencies.signals ?? process;
  let agent: ProxyWebServer;
  try {
    const discovery = config.discover === undefined ? undefined : await discoveryOptions(config.discover, dependencies.env);
    agent = new ProxyWebServer({ ...config.options, ...(discovery === undefined ? {} : { discovery }), logger });
  } catch (error) {
    io.stderr.write(`${PROGRAM}: ${oneLine(error)}\n`);
    return 2;
  }
  // Errors while running are logged by the agent; listening keeps them from being treated as unhandled.
  agent.on('error', () => undefined);

  let onSignal: ((signal: string) => void) | undefined;
  const signalled = new Promise<string>((resolve) => {
    onSignal = (signal: string) => resolve(signal);
    for (const name of SIGNALS) signals.on(name, onSignal as () => void);
  });
  try {
    const started = agent.start().then(() => 'started' as const);
    const first = await Promise.race([started, signalled]);
    if (first === 'started') {
      logger.info(
        { agentId: config.options.agentId },
        agent.proxies.length === 0 ? 'listening for proxies on the LAN (discovery); draining on SIGTERM/SIGINT' : 'registered; draining on SIGTERM/SIGINT',
      );
      dependencies.onRegistered?.(agent);
      const signal = await signalled;
      logger.info({ signal }, 'draining before exit');
    } else {
      started.catch(() => undefined);
    }
    await agent.stop();
    return 0;
  } catch (error) {
    io.stderr.write(`${PROGRAM}: ${oneLine(error)}\n`);
    await agent.stop();
    return 1;
  } finally {
    for (const name of SIGNALS) signals.off(name, onSignal as () => void);
  }
}
