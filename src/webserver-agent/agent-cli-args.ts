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
import type { HealthCheckOptions } from './target-health-check.js';

/** Usage text of `inteli-agent --help`. */
export const AGENT_CLI_HELP = [
  'Usage: inteli-agent --proxy wss://HOST:PORT --id ID --key FILE --target HOST:PORT --rule /api [--rule ...]',
  '                    [--pin PIN | --ca FILE | --insecure] [--weight N] [--meta k=v ...] [--audience AUD]',
  '                    [--affinity cookie|hash [--affinity-header NAME]] [--body-timeout MS]',
  '                    [--health-path PATH [--health-status N]] [--health-interval MS] [--no-health-check]',
  '',
  'Registers an existing web server (any language) with inteli-proxy, keeps it registered across',
  'disconnections, and drains it on SIGTERM/SIGINT before exiting 0.',
  '',
  'Options:',
  '  --proxy URL       control-plane URL, wss://HOST:PORT (ws:// only with --insecure)',
  '  --id ID           agent id (the key id in the proxy trust store)',
  '  --key FILE        private key file written by "inteli-sysadmin keygen" (<id>.key.json)',
  '  --target ADDR     the server to route to: HOST:PORT, [IPv6]:PORT, or http(s)://HOST:PORT',
  '  --rule PATH       path prefix served (repeatable); "host/path" for a host-specific rule',
  '  --pin PIN         SHA-256 pin of the proxy public key, as the proxy prints it (repeatable)',
  '  --ca FILE         CA certificate that signed the proxy certificate',
  '  --insecure        do not verify the proxy (development only)',
  '  --weight N        weight for weighted selection, 1 to 1000',
  '  --meta K=V        label sent with the registration (repeatable)',
  '  --audience AUD    token audience (default inteli-proxy)',
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
        proxy: { type: 'string' },
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
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new InvalidOptionError((error as Error).message.split('\n')[0] ?? 'invalid arguments', { cause: error });
  }
  const logLevel = (values['log-level'] ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new InvalidOptionError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}`);
  if (values.help === true) return { help: true, logLevel, options: undefined };
  const proxyUrl = required(values, 'proxy');
  const agentId = required(values, 'id');
  const key = required(values, 'key');
  const target = parseTarget(required(values, 'target'));
  const rules = (values.rule as string[] | undefined) ?? [];
  if (rules.length === 0) throw new InvalidOptionError('--rule is required (at least one); run "inteli-agent --help"');
  const options: ProxyWebServerOptions = { proxyUrl, agentId, key, target, rules: rules.map(parseRule) };
  if (values.pin !== undefined) options.pin = values.pin as string[];
  if (typeof values.ca === 'string') options.ca = values.ca;
  if (values.insecure === true) options.insecure = true;
  if (typeof values.audience === 'string') options.audience = values.audience;
  if (typeof values.weight === 'string') {
    if (!/^\d{1,4}$/.test(values.weight)) throw new InvalidOptionError('--weight: expected an integer from 1 to 1000');
    options.weight = Number(values.weight);
  }
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
  const bodyTimeout = count(values, 'body-timeout');
  if (bodyTimeout !== undefined) options.bodyTimeoutMs = bodyTimeout;
  options.healthCheck = healthCheck(values);
  return { help: false, logLevel, options };
}

/** A non-negative integer flag, or undefined when absent. */
function count(values: Record<string, unknown>, name: string): number | undefined {
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
  const status = count(values, 'health-status');
  if (status !== undefined) {
    if (options.path === undefined) throw new InvalidOptionError('--health-status: only with --health-path');
    options.expectStatus = status;
  }
  const intervalMs = count(values, 'health-interval');
  if (intervalMs !== undefined) options.intervalMs = intervalMs;
  const timeoutMs = count(values, 'health-timeout');
  if (timeoutMs !== undefined) options.timeoutMs = timeoutMs;
  const fall = count(values, 'health-fall');
  if (fall !== undefined) options.unhealthyThreshold = fall;
  const rise = count(values, 'health-rise');
  if (rise !== undefined) options.healthyThreshold = rise;
  return options;
}
