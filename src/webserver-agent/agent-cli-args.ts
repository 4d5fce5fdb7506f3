/**
 * Flags of the `inteli-agent` sidecar, parsed strictly into {@link ProxyWebServerOptions}. Every mistake
 * is an {@link InvalidOptionError} with a one-line message naming the flag.
 */
import { parseArgs } from 'node:util';
import net from 'node:net';
import { InvalidOptionError } from '../shared/errors.js';
import { LOG_LEVELS, type LogLevel } from '../shared/env.js';
import type { RuleSpec } from '../shared/protocol.js';
import type { AdvertisedTarget, ProxyWebServerOptions } from './agent-options.js';
import type { ProxyEndpoint } from './proxy-endpoints.js';
import type { HealthCheckOptions } from './target-health-check.js';

/** Usage text of `inteli-agent --help`. */
export const AGENT_CLI_HELP = [
  'Usage: inteli-agent --proxy wss://HOST:PORT [--proxy ...] --id ID --key FILE --target HOST:PORT --rule /api [--rule ...]',
  '                    [--pin PIN ... | --ca FILE | --insecure] [--weight N] [--meta k=v ...] [--audience AUD]',
  '                    [--min-acks N] [--start-timeout-ms MS]',
  '                    [--affinity cookie|hash [--affinity-header NAME]] [--body-timeout MS]',
  '                    [--health-path PATH [--health-status N]] [--health-interval MS] [--no-health-check]',
  '       inteli-agent --discover [--probe CIDR ...] [--discovery-interface ADDR] --id ID --key FILE --target HOST:PORT',
  '                    --rule /api [--rule ...]   (cluster secret in INTELI_CLUSTER_SECRET or INTELI_CLUSTER_SECRET_FILE)',
  '',
  'Registers an existing web server (any language) with inteli-proxy, keeps it registered across',
  'disconnections, and drains it on SIGTERM/SIGINT before exiting 0.',
  '',
  'Options:',
  '  --proxy URL       control-plane URL, wss://HOST:PORT (ws:// only with --insecure); repeatable:',
  '                    one independent session per proxy',
  '  --discover        find the proxies on the LAN (docs/discovery.md) with the cluster secret from',
  '                    INTELI_CLUSTER_SECRET or INTELI_CLUSTER_SECRET_FILE; may be combined with --proxy',
  '  --probe CIDR      with --discover: also probe these IPv4 addresses or blocks (at most /24; repeatable),',
  '                    for networks that drop multicast',
  '  --discovery-interface ADDR  with --discover: the local IPv4 address of the LAN interface to use',
  '  --id ID           agent id (the key id in the proxy trust store)',
  '  --key FILE        private key file written by "inteli-sysadmin keygen" (<id>.key.json)',
  '  --target ADDR     the server to route to: HOST:PORT, [IPv6]:PORT, or http(s)://HOST:PORT',
  '  --rule PATH       path prefix served (repeatable); "host/path" for a host-specific rule',
  '  --pin PIN         SHA-256 pin of the proxy public key, as the proxy prints it; repeatable: with one',
  '                    --proxy every pin is accepted (rotation); with several, give one pin for all of',
  '                    them or one pin per --proxy, in the same order',
  '  --ca FILE         CA certificate that signed the proxy certificate',
  '  --insecure        do not verify the proxy (development only)',
  '  --weight N        weight for weighted selection, 1 to 1000',
  '  --meta K=V        label sent with the registration (repeatable)',
  '  --audience AUD    fixed token audience (default inteli-proxy:<pin of the certificate the proxy presents>)',
  '  --min-acks N      proxies that must acknowledge before the agent counts as started (default: all)',
  '  --start-timeout-ms MS  give up (exit 1) when not registered within MS; default: retry until registered',
  '  --affinity MODE   session affinity for the rules: cookie (signed cookie) or hash (client address)',
  '  --affinity-header NAME  with --affinity hash: hash this request header instead of the address',
  '  --body-timeout MS longest silence between response body chunks (0: none; SSE never has one)',
  '  --health-path P   health-check the target with GET P (default: a TCP connect)',
  '  --health-status N status the GET must answer (default 200)',
  '  --health-interval MS  interval between checks (default 2000); unhealthy: no new requests',
  '  --health-timeout MS   bound on one check (default 1000)',
  '  --health-fall N   failed checks in a row that make the target unhealthy (default 1)',
  '  --health-rise N   passed checks in a row that make it healthy again (default 1)',
  '  --no-health-check do not check the target',
  '  --log-level LVL   fatal|error|warn|info|debug|trace|silent (default info)',
  '  -h, --help        show this help',
].join('\n');

/** What the sidecar runs with. */
export interface AgentCliConfig {
  readonly help: boolean;
  readonly logLevel: LogLevel;
  /** Undefined with `--help`. */
  readonly options: ProxyWebServerOptions | undefined;
  /** With `--discover`: what to add to the discovery options (the secret comes from the environment). */
  readonly discover?: { readonly probe?: readonly string[]; readonly interface?: string } | undefined;
}

/** Parses `HOST:PORT`, `[v6]:PORT` or `http(s)://HOST:PORT`. */
export function parseTarget(value: string): Required<AdvertisedTarget> {
  let protocol: 'http' | 'https' = 'http';
  let rest = value;
  const scheme = /^(https?):\/\//i.exec(value);
  if (scheme !== null) {
    protocol = scheme[1]!.toLowerCase() as 'http' | 'https';
    rest = value.slice(scheme[0].length).replace(/\/$/, '');
  }
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]/]+)):(\d{1,5})$/.exec(rest);
  const port = match === null ? Number.NaN : Number(match[3]);
  const host = match?.[1] ?? match?.[2];
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65_535 || (match?.[1] !== undefined && net.isIPv6(host) === false)) {
    throw new InvalidOptionError(`--target: expected HOST:PORT, [IPv6]:PORT or http(s)://HOST:PORT, got ${JSON.stringify(value).slice(0, 80)}`);
  }
  return { host, port, protocol };
}

function parseRule(value: string): RuleSpec {
  if (value.startsWith('/')) return value;
  const slash = value.indexOf('/');
  if (slash <= 0) throw new InvalidOptionError(`--rule: expected /path or host/path, got ${JSON.stringify(value).slice(0, 80)}`);
  return { host: value.slice(0, slash), path: value.slice(slash) };
}

/**
 * Pairs `--proxy` and `--pin`: one proxy takes every pin (key rotation); several proxies take one pin
 * for all of them, or one pin each in the order given. Any other count is ambiguous and refused.
 */
function proxyList(proxies: readonly string[], pins: readonly string[] | undefined): string | Array<string | ProxyEndpoint> {
  if (proxies.length === 1) return proxies[0] as string;
  if (pins === undefined || pins.length === 1) return [...proxies];
  if (pins.length !== proxies.length) {
    throw new InvalidOptionError(`--pin: give one pin for every proxy or one per --proxy in the same order; got ${pins.length} pins for ${proxies.length} proxies`);
  }
  return proxies.map((url, index) => ({ url, pin: pins[index] as string }));
}

function count(flag: string, value: string, min: number, max: number): number {
  const parsed = /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) throw new InvalidOptionError(`${flag}: expected an integer from ${min} to ${max}`);
  return parsed;
}

function required(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.length === 0) throw new InvalidOptionError(`--${name} is required; run "inteli-agent --help"`);
  return value;
}

/**
 * Parses the sidecar's flags.
 *
 * @throws {InvalidOptionError} naming the flag (unknown flag, missing or malformed value).
 */
export function parseAgentArgs(argv: readonly string[]): AgentCliConfig {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        proxy: { type: 'string', multiple: true },
        id: { type: 'string' },
        key: { type: 'string' },
        target: { type: 'string' },
        rule: { type: 'string', multiple: true },
        pin: { type: 'string', multiple: true },
        ca: { type: 'string' },
        insecure: { type: 'boolean' },
        weight: { type: 'string' },
        meta: { type: 'string', multiple: true },
        audience: { type: 'string' },
        'min-acks': { type: 'string' },
        'start-timeout-ms': { type: 'string' },
        affinity: { type: 'string' },
        'affinity-header': { type: 'string' },
        'body-timeout': { type: 'string' },
        'health-path': { type: 'string' },
        'health-status': { type: 'string' },
        'health-interval': { type: 'string' },
        'health-timeout': { type: 'string' },
        'health-fall': { type: 'string' },
        'health-rise': { type: 'string' },
        'no-health-check': { type: 'boolean' },
        'log-level': { type: 'string' },
        discover: { type: 'boolean' },
        probe: { type: 'string', multiple: true },
        'discovery-interface': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new InvalidOptionError((error as Error).message.split('\n')[0] ?? 'invalid arguments', { cause: error });
  }
  const logLevel = (values['log-level'] ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new InvalidOptionError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}`);
  if (values.help === true) return { help: true, logLevel, options: undefined };
  const proxies = (values.proxy as string[] | undefined) ?? [];
  const discover = values.discover === true;
  if ((!discover && proxies.length === 0) || proxies.some((proxy) => proxy.length === 0)) {
    throw new InvalidOptionError('--proxy (or --discover) is required; run "inteli-agent --help"');
  }
  if (!discover && (values.probe !== undefined || values['discovery-interface'] !== undefined)) {
    throw new InvalidOptionError('--probe and --discovery-interface need --discover');
  }
  if (discover && values.insecure === true) throw new InvalidOptionError('--discover: discovered proxies are always verified; remove --insecure');
  const pins = values.pin as string[] | undefined;
  const agentId = required(values, 'id');
  const key = required(values, 'key');
  const target = parseTarget(required(values, 'target'));
  const rules = (values.rule as string[] | undefined) ?? [];
  if (rules.length === 0) throw new InvalidOptionError('--rule is required (at least one); run "inteli-agent --help"');
  const options: ProxyWebServerOptions = { agentId, key, target, rules: rules.map(parseRule) };
  if (proxies.length > 0) options.proxyUrl = proxyList(proxies, pins);
  // With one proxy (or one pin for all), the pins apply to every proxy; otherwise each proxy got its own.
  if (pins !== undefined && (proxies.length === 1 || pins.length === 1)) options.pin = pins;
  if (typeof values.ca === 'string') options.ca = values.ca;
  if (values.insecure === true) options.insecure = true;
  if (typeof values.audience === 'string') options.audience = values.audience;
  if (typeof values.weight === 'string') {
    if (!/^\d{1,4}$/.test(values.weight)) throw new InvalidOptionError('--weight: expected an integer from 1 to 1000');
    options.weight = Number(values.weight);
  }
  if (typeof values['min-acks'] === 'string') options.minAcks = count('--min-acks', values['min-acks'], 1, Math.max(1, proxies.length));
  if (typeof values['start-timeout-ms'] === 'string') options.startTimeoutMs = count('--start-timeout-ms', values['start-timeout-ms'], 1, 86_400_000);
  if (values.meta !== undefined) {
    const meta: Record<string, string> = {};
    for (const entry of values.meta as string[]) {
      const equals = entry.indexOf('=');
      if (equals <= 0) throw new InvalidOptionError(`--meta: expected KEY=VALUE, got ${JSON.stringify(entry).slice(0, 80)}`);
      meta[entry.slice(0, equals)] = entry.slice(equals + 1);
    }
    options.meta = meta;
  }
  if (values.affinity !== undefined) {
    if (values.affinity !== 'cookie' && values.affinity !== 'hash') throw new InvalidOptionError('--affinity: expected cookie or hash');
    options.affinity = values.affinity;
  }
  if (typeof values['affinity-header'] === 'string') {
    if (options.affinity !== 'hash') throw new InvalidOptionError('--affinity-header: only with --affinity hash');
    options.affinityHeader = values['affinity-header'];
  }
  const bodyTimeout = optionalCount(values, 'body-timeout');
  if (bodyTimeout !== undefined) options.bodyTimeoutMs = bodyTimeout;
  options.healthCheck = healthCheck(values);
  if (!discover) return { help: false, logLevel, options };
  const discoveryInterface = values['discovery-interface'];
  return {
    help: false,
    logLevel,
    options,
    discover: {
      ...(values.probe === undefined ? {} : { probe: values.probe as string[] }),
      ...(typeof discoveryInterface === 'string' ? { interface: discoveryInterface } : {}),
    },
  };
}

/** A non-negative integer flag, or undefined when absent. */
function optionalCount(values: Record<string, unknown>, name: string): number | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,10}$/.test(value)) throw new InvalidOptionError(`--${name}: expected a non-negative integer`);
  return Number(value);
}

/** The sidecar checks its target by default (a TCP connect every 2 s); the flags tune or disable it. */
function healthCheck(values: Record<string, unknown>): HealthCheckOptions | false {
  const tuned = ['health-path', 'health-status', 'health-interval', 'health-timeout', 'health-fall', 'health-rise'].filter((name) => values[name] !== undefined);
  if (values['no-health-check'] === true) {
    if (tuned.length > 0) throw new InvalidOptionError(`--no-health-check: cannot be combined with --${tuned[0]}`);
    return false;
  }
  const options: HealthCheckOptions = {};
  if (typeof values['health-path'] === 'string') options.path = values['health-path'];
  const status = optionalCount(values, 'health-status');
  if (status !== undefined) {
    if (options.path === undefined) throw new InvalidOptionError('--health-status: only with --health-path');
    options.expectStatus = status;
  }
  const intervalMs = optionalCount(values, 'health-interval');
  if (intervalMs !== undefined) options.intervalMs = intervalMs;
  const timeoutMs = optionalCount(values, 'health-timeout');
  if (timeoutMs !== undefined) options.timeoutMs = timeoutMs;
  const fall = optionalCount(values, 'health-fall');
  if (fall !== undefined) options.unhealthyThreshold = fall;
  const rise = optionalCount(values, 'health-rise');
  if (rise !== undefined) options.healthyThreshold = rise;
  return options;
}
