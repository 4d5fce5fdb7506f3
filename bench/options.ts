/**
 * Command-line options of `npm run bench`, in three steps: defaults, validation, freeze. Flags win over the
 * BENCH_* environment variables, which win over the defaults.
 */

import { DEFAULT_REGISTRATION_MODE, type RegistrationMode } from './contenders/register-backends.js';

/**
 * Node flags `npm start` gives the proxy (package.json): a 16 MB young generation cuts scavenges enough
 * to save about 8% CPU per request (measured with this bench: 32.2 -> 29.5 us/request, +2 MB RSS).
 */
export const PROXY_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=16']);

/** Every contender the bench knows, in table order. */
export const ALL_CONTENDERS = ['direct', 'inteli', 'inteli-10k', 'inteli-x2', 'undici-bare', 'http-proxy-ka', 'http-proxy', 'nginx', 'haproxy'] as const;

/** Seconds per measurement (each contender, concurrency and round). */
export const DEFAULT_DURATION_SECONDS = 3;
/** Interleaved rounds; medians are reported. */
export const DEFAULT_ROUNDS = 3;
/** Seconds of load before the first round, per contender, so that JIT and pools are warm. */
export const DEFAULT_WARMUP_SECONDS = 2;
/** Concurrency levels. */
export const DEFAULT_CONNECTIONS = [1, 50];
/** WebSocket echo connections. */
export const DEFAULT_WS_CONNECTIONS = 16;

/**
 * What `npm run bench` measures: `peers` (default) the data plane against its peers; the others are the
 * scale scenarios of issue 17 (see bench/README.md): `tail` and `ws` are presets of the peer run, `agents`,
 * `storm` and `clients` have their own runner (bench/scenarios/), `fleet` waits for the Redis fleet.
 */
export const SCENARIOS = ['peers', 'agents', 'storm', 'clients', 'tail', 'ws', 'fleet'] as const;
/** One of {@link SCENARIOS}. */
export type Scenario = (typeof SCENARIOS)[number];
/** Agents of the `agents` and `storm` scenarios. */
export const DEFAULT_AGENTS = 2_000;
/** Agents of the `fleet` scenario (each holds a session with each of its 3 proxies; one revocation each). */
export const DEFAULT_FLEET_AGENTS = 100;
/** Child processes the agents are spread over. */
export const DEFAULT_AGENT_PROCESSES = 4;
/** Keep-alive client connections held through the proxy in the `clients` scenario. */
export const DEFAULT_CLIENTS = 10_000;
/** Concurrency of the throughput comparison of the `clients` scenario. */
export const DEFAULT_CLIENTS_ACTIVE = 1_000;
/** Rounds of the `tail` scenario (c=1 is noisy: more rounds, medians). */
export const DEFAULT_TAIL_ROUNDS = 5;

/** Resolved options. */
export interface BenchOptions {
  readonly durationSeconds: number;
  readonly rounds: number;
  readonly warmupSeconds: number;
  readonly connections: readonly number[];
  readonly wsConnections: number;
  /** `auto` uses wrk when installed, else autocannon. */
  readonly tool: 'auto' | 'wrk' | 'autocannon';
  readonly contenders: readonly string[];
  readonly websocket: boolean;
  /** Contenders to run with `--cpu-prof` (profiles and a summary land in the results directory). */
  readonly profile: readonly string[];
  readonly outDir: string | undefined;
  readonly quick: boolean;
  /** How inteli registers the backends: real agents over the control plane, or `proxy.registry.add`. */
  readonly register: RegistrationMode;
  /** Extra Node/V8 flags for the inteli children, e.g. `--max-semi-space-size=16`. Default none. */
  readonly inteliFlags: readonly string[];
  /** Seconds of the inteli memory soak at the highest concurrency after the rounds; 0 = off. */
  readonly soakSeconds: number;
  /** Run the HTTP/2 scenario (h2load against inteli-h2 and nginx-h2). Default on, off in --quick. */
  readonly h2: boolean;
  /** Which measurement runs (see {@link SCENARIOS}). */
  readonly scenario: Scenario;
  /** False for the `ws` scenario: only the WebSocket echo is measured. */
  readonly http: boolean;
  /** `tail`: the inteli child samples GC pauses and event-loop delay and reports them. */
  readonly observeTail: boolean;
  /** Agents of `agents`/`storm`. */
  readonly agents: number;
  /** Processes they run in. */
  readonly agentProcesses: number;
  /** Connections held by `clients`. */
  readonly clients: number;
  /** Concurrency of the `clients` throughput comparison. */
  readonly clientsActive: number;
}

export const USAGE = `usage: npm run bench -- [options]
  --duration S       seconds per measurement (default ${DEFAULT_DURATION_SECONDS}; env BENCH_DURATION)
  --rounds N         interleaved rounds, medians reported (default ${DEFAULT_ROUNDS}; env BENCH_ROUNDS)
  --warmup S         warm-up seconds per contender (default ${DEFAULT_WARMUP_SECONDS})
  --connections L    concurrency list (default ${DEFAULT_CONNECTIONS.join(',')})
  --ws-connections N WebSocket echo connections (default ${DEFAULT_WS_CONNECTIONS}); --no-ws skips the test
  --tool T           auto | wrk | autocannon (default auto: wrk when installed)
  --contenders L     subset of ${ALL_CONTENDERS.join(',')}
  --profile L        run these Node contenders with --cpu-prof (e.g. --profile inteli)
  --out DIR          results directory (default bench/results)
  --register M       agent | registry: how inteli's backends register (default ${DEFAULT_REGISTRATION_MODE})
  --inteli-flags F   Node flags for the inteli processes, space-separated (default: npm start's, "--max-semi-space-size=16")
  --soak S           then load inteli for S seconds and sample its RSS (memory flat? try 300; default off)
  --no-h2            skip the HTTP/2 scenario (h2load against inteli's and nginx's h2 listeners)
  --quick            smoke mode: direct + inteli, autocannon, c=50, 1 round, 1 s (with --scenario: tiny sizes)
  --scenario S       ${SCENARIOS.join(' | ')} (default peers; see bench/README.md)
                       tail: direct, inteli, nginx at c=1, ${DEFAULT_TAIL_ROUNDS} rounds, GC and event-loop delay of inteli
                       ws: WebSocket echo only, direct, inteli, nginx
                       agents: ${DEFAULT_AGENTS} agents over real WSS on one proxy process (routing time, memory, heartbeat CPU, throughput)
                       storm: agents, then the proxy process restarted (time until every route is back, refusals)
                       clients: ${DEFAULT_CLIENTS} keep-alive connections held (memory each), c=${DEFAULT_CLIENTS_ACTIVE} vs nginx
                       fleet: 3 proxies on one Redis, ${DEFAULT_FLEET_AGENTS} agents on all three, revocation fan-out p50/p99
  --agents N         agents of agents/storm (default ${DEFAULT_AGENTS}); --agent-processes N (default ${DEFAULT_AGENT_PROCESSES})
  --clients N        connections held by clients (default ${DEFAULT_CLIENTS}); --clients-active N (default ${DEFAULT_CLIENTS_ACTIVE})
`;

function fail(message: string): never {
  throw new Error(`${message}\n${USAGE}`);
}

function positive(name: string, raw: string, { integer, min }: { integer: boolean; min: number }): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    fail(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got '${raw}'`);
  }
  return value;
}

function list(raw: string): string[] {
  return raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

/** Parses argv (without node and script) and the environment. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const quick = argv.includes('--quick');
  // The scenario sets the defaults the other flags then override, so it is read first.
  const scenarioAt = argv.indexOf('--scenario');
  const scenarioRaw = scenarioAt < 0 ? 'peers' : argv[scenarioAt + 1];
  if (scenarioRaw === undefined || !(SCENARIOS as readonly string[]).includes(scenarioRaw)) fail(`--scenario must be one of ${SCENARIOS.join(', ')}, got '${scenarioRaw ?? ''}'`);
  const scenario = scenarioRaw as Scenario;
  let durationSeconds = quick ? 1 : DEFAULT_DURATION_SECONDS;
  let rounds = quick ? 1 : DEFAULT_ROUNDS;
  let warmupSeconds = quick ? 0.5 : DEFAULT_WARMUP_SECONDS;
  let connections: number[] = quick ? [50] : [...DEFAULT_CONNECTIONS];
  let wsConnections = DEFAULT_WS_CONNECTIONS;
  let tool: BenchOptions['tool'] = quick ? 'autocannon' : 'auto';
  let contenders: string[] = quick ? ['direct', 'inteli'] : [...ALL_CONTENDERS];
  let websocket = true;
  let h2 = !quick;
  let profile: string[] = [];
  let outDir: string | undefined;
  let soakSeconds = 0;
  let register: RegistrationMode = DEFAULT_REGISTRATION_MODE;
  // The same V8 flags `npm start` runs the proxy with, so the bench measures what users run.
  let inteliFlags: string[] = [...PROXY_NODE_FLAGS];
  let http = true;
  let agents = quick ? 20 : scenario === 'fleet' ? DEFAULT_FLEET_AGENTS : DEFAULT_AGENTS;
  let agentProcesses = quick ? 2 : DEFAULT_AGENT_PROCESSES;
  let clients = quick ? 200 : DEFAULT_CLIENTS;
  let clientsActive = quick ? 20 : DEFAULT_CLIENTS_ACTIVE;
  if (scenario === 'tail') {
    contenders = ['direct', 'inteli', 'nginx'];
    connections = [1];
    rounds = quick ? 1 : DEFAULT_TAIL_ROUNDS;
    websocket = false;
    h2 = false;
  } else if (scenario === 'ws') {
    contenders = ['direct', 'inteli', 'nginx'];
    http = false;
    h2 = false;
  }
  if (env.BENCH_DURATION !== undefined) durationSeconds = positive('duration', env.BENCH_DURATION, { integer: true, min: 1 });
  if (env.BENCH_ROUNDS !== undefined) rounds = positive('rounds', env.BENCH_ROUNDS, { integer: true, min: 1 });
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i]!;
    const value = (): string => {
      const next = argv[i + 1];
      if (next === undefined) fail(`${flag} needs a value`);
      i += 1;
      return next;
    };
    switch (flag) {
      case '--quick':
        break;
      case '--scenario':
        value();
        break;
      case '--agents':
        agents = positive('agents', value(), { integer: true, min: 1 });
        break;
      case '--agent-processes':
        agentProcesses = positive('agent-processes', value(), { integer: true, min: 1 });
        break;
      case '--clients':
        clients = positive('clients', value(), { integer: true, min: 1 });
        break;
      case '--clients-active':
        clientsActive = positive('clients-active', value(), { integer: true, min: 1 });
        break;
      case '--duration':
        // wrk takes whole seconds.
        durationSeconds = positive('duration', value(), { integer: true, min: 1 });
        break;
      case '--rounds':
        rounds = positive('rounds', value(), { integer: true, min: 1 });
        break;
      case '--warmup':
        warmupSeconds = positive('warmup', value(), { integer: false, min: 0 });
        break;
      case '--connections':
        connections = list(value()).map((item) => positive('connections', item, { integer: true, min: 1 }));
        break;
      case '--ws-connections':
        wsConnections = positive('ws-connections', value(), { integer: true, min: 1 });
        break;
      case '--no-ws':
        websocket = false;
        break;
      case '--no-h2':
        h2 = false;
        break;
      case '--tool': {
        const raw = value();
        if (raw !== 'auto' && raw !== 'wrk' && raw !== 'autocannon') fail(`--tool must be auto, wrk or autocannon, got '${raw}'`);
        tool = raw;
        break;
      }
      case '--contenders':
        contenders = list(value());
        for (const name of contenders) {
          if (!(ALL_CONTENDERS as readonly string[]).includes(name)) fail(`unknown contender '${name}'`);
        }
        break;
      case '--profile':
        profile = list(value());
        break;
      case '--out':
        outDir = value();
        break;
      case '--register': {
        const raw = value();
        if (raw !== 'agent' && raw !== 'registry') fail(`--register must be agent or registry, got '${raw}'`);
        register = raw;
        break;
      }
      case '--inteli-flags':
        inteliFlags = value().split(' ').filter((flag) => flag !== '');
        for (const flag of inteliFlags) if (!flag.startsWith('--')) fail(`--inteli-flags takes Node flags starting with --, got '${flag}'`);
        break;
      case '--soak':
        soakSeconds = positive('soak', value(), { integer: true, min: 0 });
        break;
      default:
        fail(`unknown option '${flag}'`);
    }
  }
  if (connections.length === 0) fail('--connections needs at least one value');
  return Object.freeze({
    durationSeconds,
    rounds,
    warmupSeconds,
    connections: Object.freeze(connections),
    wsConnections,
    tool,
    contenders: Object.freeze(contenders),
    websocket,
    profile: Object.freeze(profile),
    outDir,
    quick,
    soakSeconds,
    register,
    inteliFlags: Object.freeze(inteliFlags),
    h2,
    scenario,
    http,
    observeTail: scenario === 'tail',
    agents,
    agentProcesses: Math.min(agentProcesses, agents),
    clients,
    clientsActive,
  });
}
