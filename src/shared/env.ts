/**
 * The only module that reads `process.env`. It reads it once, validates every variable and names the bad
 * one in the error. A `.env` file in the working directory is loaded with dotenv when it exists; it is
 * never required, and variables already set in the environment win over it.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { config as loadDotenv } from 'dotenv';
import { normalizePin } from './control-client/proxy-tls.js';
import { parseClusterSecrets } from './discovery/cluster-secret.js';
import { InvalidEnvError } from './errors.js';
import { isValidAgentId } from './identity/agent-id.js';
import { isRedisUrl } from './redis/redis-options.js';

/** Log levels pino accepts. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** A pino log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `LOG_FORMAT` values: `pretty` (human, coloured), `json` (one object a line), `auto` (pretty on a terminal). */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
/** A log format. */
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The validated environment. Every field has a default; see `.env.example`. */
export interface Env {
  /** `PROXY_HOST`: address of the HTTP and HTTPS listeners. Default `0.0.0.0`. */
  readonly proxyHost: string;
  /** `PROXY_PORT`: HTTP port. Default 3080. */
  readonly proxyPort: number;
  /** `PROXY_TLS_PORT`: HTTPS port, used when a certificate is configured. Default 3443. */
  readonly proxyTlsPort: number;
  /** `PROXY_WS_HOST`: address of the control plane. Default `0.0.0.0`. */
  readonly wsHost: string;
  /** `PROXY_WS_PORT`: control-plane port. Default 3042. */
  readonly wsPort: number;
  /** `PROXY_ADMIN_HOST`: address of the admin listener. Default `127.0.0.1` (loopback only). */
  readonly adminHost: string;
  /** `PROXY_ADMIN_PORT`: admin port. Default 3090. */
  readonly adminPort: number;
  /** `PROXY_TLS_CERT`: PEM certificate path. Default `tsl/cert.pem` (a dev pair is generated if absent). */
  readonly tlsCert: string;
  /** `PROXY_TLS_KEY`: PEM private key path. Default `tsl/key.pem`. */
  readonly tlsKey: string;
  /** `PROXY_CERTSTORE`: trust store directory. Default `certstore`. */
  readonly certstore: string;
  /** `PROXY_TRUSTED_PROXIES`: comma-separated IPs/CIDRs whose X-Forwarded-* headers are kept. Default none. */
  readonly trustedProxies: readonly string[];
  /** `LOG_LEVEL`: pino level. Default `info`. */
  readonly logLevel: LogLevel;
  /** `LOG_FORMAT`: `auto` (pretty logs and a banner when stdout is a terminal, JSON otherwise), `json` or `pretty`. Default `auto`. */
  readonly logFormat: LogFormat;
  /**
   * `PROXY_WORKERS`: data-plane worker processes sharing the HTTP/HTTPS ports (Node `cluster`), 1 to 64,
   * or `auto` for one per available core. Default 1 (a single process, no cluster).
   */
  readonly workers: number;
  /** `PROXY_BODY_TIMEOUT_MS`: longest silence between upstream body chunks, 0 for none (SSE never has one). Default 60000. */
  readonly bodyTimeoutMs: number;
  /** `PROXY_AFFINITY`: default session affinity of routes, `none`, `cookie` or `hash`. Default `none`. */
  readonly affinity: 'none' | 'cookie' | 'hash';
  /** `PROXY_AFFINITY_HEADER`: with `hash`, the request header hashed instead of the client address. Default none. */
  readonly affinityHeader: string | undefined;
  /**
   * `PROXY_REDIS_URL`: `redis://[user:password@]host:port[/db]` (or `rediss://`) of the Redis that a
   * fleet of proxies shares (trust store, replay cache, membership). Default unset: one proxy with its
   * file trust store.
   */
  readonly redisUrl: string | undefined;
  /** `PROXY_REDIS_PREFIX`: prefix of every key written to Redis. Default `inteli:`. */
  readonly redisPrefix: string;
  /** `PROXY_NODE_ID`: this proxy's id in the fleet. Default unset: derived from the host name and control port. */
  readonly nodeId: string | undefined;
  /** `PROXY_TRUST_MAX_STALENESS_MS`: how long keys from Redis serve without contact, 1000 to 3600000. Default 30000. */
  readonly trustMaxStalenessMs: number;
  /** `PROXY_ACME_DIRECTORY_URL`: ACME directory (https) to obtain certificates from. Default none (ACME off). */
  readonly acmeDirectoryUrl: string | undefined;
  /** `PROXY_ACME_EMAIL`: contact e-mail of the ACME account. Default none. */
  readonly acmeEmail: string | undefined;
  /** `PROXY_ACME_CA`: PEM file of CA certificates trusted for the ACME server only. Default none. */
  readonly acmeCa: string | undefined;
}

/** Defaults of every variable, as strings exactly as they would be written in `.env`. */
export const ENV_DEFAULTS = Object.freeze({
  PROXY_HOST: '0.0.0.0',
  PROXY_PORT: '3080',
  PROXY_TLS_PORT: '3443',
  PROXY_WS_HOST: '0.0.0.0',
  PROXY_WS_PORT: '3042',
  PROXY_ADMIN_HOST: '127.0.0.1',
  PROXY_ADMIN_PORT: '3090',
  PROXY_TLS_CERT: 'tsl/cert.pem',
  PROXY_TLS_KEY: 'tsl/key.pem',
  PROXY_CERTSTORE: 'certstore',
  PROXY_TRUSTED_PROXIES: '',
  LOG_LEVEL: 'info',
  LOG_FORMAT: 'auto',
  PROXY_WORKERS: '1',
  PROXY_BODY_TIMEOUT_MS: '60000',
  PROXY_AFFINITY: 'none',
  PROXY_AFFINITY_HEADER: '',
  PROXY_REDIS_URL: '',
  PROXY_REDIS_PREFIX: 'inteli:',
  PROXY_NODE_ID: '',
  PROXY_TRUST_MAX_STALENESS_MS: '30000',
  PROXY_ACME_DIRECTORY_URL: '',
  PROXY_ACME_EMAIL: '',
  PROXY_ACME_CA: '',
});

/** Most `PROXY_WORKERS`. */
export const MAX_PROXY_WORKERS = 64;

/** A variable name this module knows. */
export type EnvName = keyof typeof ENV_DEFAULTS;

type Source = Readonly<Record<string, string | undefined>>;

function read(source: Source, name: EnvName): string {
  const value = source[name];
  return value === undefined || value.trim() === '' ? ENV_DEFAULTS[name] : value.trim();
}

function port(source: Source, name: EnvName): number {
  const raw = read(source, name);
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) {
    throw new InvalidEnvError(name, `expected a port number from 0 to 65535, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

function host(source: Source, name: EnvName): string {
  const raw = read(source, name);
  // A host is a name or an address: letters, digits, dots, dashes, colons (IPv6) and brackets.
  if (!/^[A-Za-z0-9.:\-[\]]{1,253}$/.test(raw)) {
    throw new InvalidEnvError(name, `expected a host name or IP address, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

function filePath(source: Source, name: EnvName): string {
  const raw = read(source, name);
  if (raw.includes('\0')) throw new InvalidEnvError(name, 'a path may not contain NUL');
  return raw;
}

function list(source: Source, name: EnvName): string[] {
  const raw = read(source, name);
  const items = raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
  for (const item of items) {
    if (!/^[0-9A-Fa-f.:]+(\/\d{1,3})?$/.test(item)) {
      throw new InvalidEnvError(name, `expected comma-separated IPs or CIDRs, got ${JSON.stringify(item)}`);
    }
  }
  return items;
}

function logLevel(source: Source): LogLevel {
  const raw = read(source, 'LOG_LEVEL');
  const level = LOG_LEVELS.find((candidate) => candidate === raw);
  if (level === undefined) {
    throw new InvalidEnvError('LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return level;
}

function logFormat(source: Source): LogFormat {
  const raw = read(source, 'LOG_FORMAT');
  const format = LOG_FORMATS.find((candidate) => candidate === raw);
  if (format === undefined) {
    throw new InvalidEnvError('LOG_FORMAT', `expected one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(raw.slice(0, 40))}`);
  }
  return format;
}

function workers(source: Source): number {
  const raw = read(source, 'PROXY_WORKERS');
  if (raw === 'auto') return Math.min(MAX_PROXY_WORKERS, availableParallelism());
  if (!/^\d{1,2}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_PROXY_WORKERS) {
    throw new InvalidEnvError('PROXY_WORKERS', `expected an integer from 1 to ${MAX_PROXY_WORKERS} or auto, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

function bodyTimeout(source: Source): number {
  const raw = read(source, 'PROXY_BODY_TIMEOUT_MS');
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 2_147_483_647) {
    throw new InvalidEnvError('PROXY_BODY_TIMEOUT_MS', `expected milliseconds from 0 to 2147483647, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

function redisUrl(source: Source): string | undefined {
  const raw = read(source, 'PROXY_REDIS_URL');
  if (raw === '') return undefined;
  // The value may hold a password: the message never echoes it.
  if (!isRedisUrl(raw)) throw new InvalidEnvError('PROXY_REDIS_URL', 'expected a redis:// or rediss:// URL with a host');
  return raw;
}

function redisPrefix(source: Source): string {
  const raw = read(source, 'PROXY_REDIS_PREFIX');
  if (!/^[A-Za-z0-9:._-]{0,64}$/.test(raw)) throw new InvalidEnvError('PROXY_REDIS_PREFIX', `expected 0 to 64 characters of [A-Za-z0-9:._-], got ${JSON.stringify(raw.slice(0, 80))}`);
  return raw;
}

function nodeId(source: Source): string | undefined {
  const raw = read(source, 'PROXY_NODE_ID');
  if (raw === '') return undefined;
  const shown = JSON.stringify(raw.slice(0, 80));
  if (isValidAgentId(raw)) return raw;
  throw new InvalidEnvError('PROXY_NODE_ID', `expected an id matching ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$, got ${shown}`);
}

function staleness(source: Source): number {
  const raw = read(source, 'PROXY_TRUST_MAX_STALENESS_MS');
  if (!/^\d{4,7}$/.test(raw) || Number(raw) < 1000 || Number(raw) > 3_600_000) {
    throw new InvalidEnvError('PROXY_TRUST_MAX_STALENESS_MS', `expected milliseconds from 1000 to 3600000, got ${JSON.stringify(raw.slice(0, 80))}`);
  }
  return Number(raw);
}

function acmeDirectoryUrl(source: Source): string | undefined {
  const raw = read(source, 'PROXY_ACME_DIRECTORY_URL');
  if (raw === '') return undefined;
  let protocol: string | undefined;
  try {
    protocol = new URL(raw).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== 'https:') throw new InvalidEnvError('PROXY_ACME_DIRECTORY_URL', `expected an https:// URL, got ${JSON.stringify(raw.slice(0, 120))}`);
  return raw;
}

function acmeEmail(source: Source): string | undefined {
  const raw = read(source, 'PROXY_ACME_EMAIL');
  if (raw === '') return undefined;
  if (!/^[^\s@<>(),;:"[\]]{1,64}@[A-Za-z0-9.-]{1,253}$/.test(raw)) throw new InvalidEnvError('PROXY_ACME_EMAIL', `expected an e-mail address, got ${JSON.stringify(raw.slice(0, 80))}`);
  return raw;
}

function affinity(source: Source): Env['affinity'] {
  const raw = read(source, 'PROXY_AFFINITY');
  if (raw !== 'none' && raw !== 'cookie' && raw !== 'hash') throw new InvalidEnvError('PROXY_AFFINITY', `expected none, cookie or hash, got ${JSON.stringify(raw)}`);
  return raw;
}

function affinityHeader(source: Source, mode: Env['affinity']): string | undefined {
  const raw = read(source, 'PROXY_AFFINITY_HEADER');
  if (raw === '') return undefined;
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/.test(raw)) throw new InvalidEnvError('PROXY_AFFINITY_HEADER', `expected a header name, got ${JSON.stringify(raw)}`);
  if (mode !== 'hash') throw new InvalidEnvError('PROXY_AFFINITY_HEADER', 'only with PROXY_AFFINITY=hash');
  return raw.toLowerCase();
}

/**
 * Validates the given variables (by default `process.env`, after loading `.env` when present) and
 * returns them typed and frozen.
 *
 * @throws {InvalidEnvError} naming the first invalid variable.
 */
export function loadEnv(source?: Source, cwd: string = process.cwd()): Env {
  let vars = source;
  if (vars === undefined) {
    const dotenvPath = path.join(cwd, '.env');
    if (existsSync(dotenvPath)) loadDotenv({ path: dotenvPath, quiet: true });
    vars = process.env;
  }
  return Object.freeze({
    proxyHost: host(vars, 'PROXY_HOST'),
    proxyPort: port(vars, 'PROXY_PORT'),
    proxyTlsPort: port(vars, 'PROXY_TLS_PORT'),
    wsHost: host(vars, 'PROXY_WS_HOST'),
    wsPort: port(vars, 'PROXY_WS_PORT'),
    adminHost: host(vars, 'PROXY_ADMIN_HOST'),
    adminPort: port(vars, 'PROXY_ADMIN_PORT'),
    tlsCert: filePath(vars, 'PROXY_TLS_CERT'),
    tlsKey: filePath(vars, 'PROXY_TLS_KEY'),
    certstore: filePath(vars, 'PROXY_CERTSTORE'),
    trustedProxies: Object.freeze(list(vars, 'PROXY_TRUSTED_PROXIES')),
    logLevel: logLevel(vars),
    logFormat: logFormat(vars),
    workers: workers(vars),
    bodyTimeoutMs: bodyTimeout(vars),
    affinity: affinity(vars),
    affinityHeader: affinityHeader(vars, affinity(vars)),
    redisUrl: redisUrl(vars),
    redisPrefix: redisPrefix(vars),
    nodeId: nodeId(vars),
    trustMaxStalenessMs: staleness(vars),
    acmeDirectoryUrl: acmeDirectoryUrl(vars),
    acmeEmail: acmeEmail(vars),
    acmeCa: filePath(vars, 'PROXY_ACME_CA') || undefined,
  });
}

/**
 * The connection settings of `inteli-sysadmin`, from the environment. Every field is optional: the CLI's
 * flags win over these, and the CLI reports what is still missing.
 */
export interface SysadminEnv {
  /** `PROXY_WS_URL`: the proxy's control-plane URL (`wss://host:port`, `ws://` for development). */
  readonly proxyUrl?: string;
  /** `INTELI_ADMIN_ID`: the admin key's id. */
  readonly adminId?: string;
  /** `INTELI_ADMIN_KEY`: path of the admin's private key file (`<id>.key.json`). */
  readonly adminKey?: string;
  /** `INTELI_PROXY_PIN`: SHA-256 pin of the proxy's public key (base64, as the proxy prints it). */
  readonly pin?: string;
}

function optional(source: Source, name: string): string | undefined {
  const value = source[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * Reads and validates `PROXY_WS_URL`, `INTELI_ADMIN_ID`, `INTELI_ADMIN_KEY` and `INTELI_PROXY_PIN`
 * (by default from `process.env`, after loading `.env` when present). Unset or empty variables are
 * absent from the result.
 *
 * @throws {InvalidEnvError} naming the first invalid variable.
 */
export function readSysadminEnv(source?: Source, cwd: string = process.cwd()): SysadminEnv {
  let vars = source;
  if (vars === undefined) {
    const dotenvPath = path.join(cwd, '.env');
    if (existsSync(dotenvPath)) loadDotenv({ path: dotenvPath, quiet: true });
    vars = process.env;
  }
  const out: { proxyUrl?: string; adminId?: string; adminKey?: string; pin?: string } = {};
  const url = optional(vars, 'PROXY_WS_URL');
  if (url !== undefined) {
    let protocol: string | undefined;
    try {
      protocol = new URL(url).protocol;
    } catch {
      protocol = undefined;
    }
    if (protocol !== 'wss:' && protocol !== 'ws:') {
      throw new InvalidEnvError('PROXY_WS_URL', `expected a wss://host:port URL, got ${JSON.stringify(url.slice(0, 80))}`);
    }
    out.proxyUrl = url;
  }
  const id = optional(vars, 'INTELI_ADMIN_ID');
  if (id !== undefined) {
    if (!isValidAgentId(id)) {
      throw new InvalidEnvError('INTELI_ADMIN_ID', `expected an id matching ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$, got ${JSON.stringify(vars.INTELI_ADMIN_ID?.slice(0, 80))}`);
    }
    out.adminId = id;
  }
  const key = optional(vars, 'INTELI_ADMIN_KEY');
  if (key !== undefined) {
    if (key.includes('\0')) throw new InvalidEnvError('INTELI_ADMIN_KEY', 'a path may not contain NUL');
    out.adminKey = key;
  }
  const pin = optional(vars, 'INTELI_PROXY_PIN');
  if (pin !== undefined) {
    const normalized = normalizePin(pin);
    if (normalized === undefined) throw new InvalidEnvError('INTELI_PROXY_PIN', 'expected a base64 SHA-256 public-key pin (44 characters)');
    out.pin = normalized;
  }
  return Object.freeze(out);
}

/**
 * Every variable set to a non-empty value (trimmed), by default from `process.env` after loading `.env`
 * when present. The proxy's configuration layer (`src/proxy/config/`) parses the ones its schema names
 * and warns about unknown `PROXY_*` ones; this module stays the only reader of `process.env`.
 */
export function readVariables(source?: Source, cwd: string = process.cwd()): Readonly<Record<string, string>> {
  let vars = source;
  if (vars === undefined) {
    const dotenvPath = path.join(cwd, '.env');
    if (existsSync(dotenvPath)) loadDotenv({ path: dotenvPath, quiet: true });
    vars = process.env;
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(vars)) {
    if (value !== undefined && value.trim() !== '') out[name] = value.trim();
  }
  return Object.freeze(out);
}

/**
 * The cluster secret of LAN discovery (docs/discovery.md), from the environment: inline or as a file
 * path, never both. Proxies read `PROXY_CLUSTER_SECRET` / `PROXY_CLUSTER_SECRET_FILE`, agents
 * `INTELI_CLUSTER_SECRET` / `INTELI_CLUSTER_SECRET_FILE`. Absent: discovery stays off.
 */
export interface ClusterSecretEnv {
  /** The secret text (one or more secrets, the first one sealing); validated. */
  readonly secret?: string;
  /** Path of a file holding it (read by the caller with `readClusterSecretFile`). */
  readonly secretFile?: string;
}

/**
 * Reads and validates the cluster secret variables of `role` (by default from `process.env`).
 *
 * @throws {InvalidEnvError} naming the variable: both set, a weak secret (with the command that makes
 *   one), or a path with NUL.
 */
export function readClusterSecretEnv(role: 'proxy' | 'agent', source?: Source): ClusterSecretEnv {
  const vars = source ?? process.env;
  const prefix = role === 'proxy' ? 'PROXY' : 'INTELI';
  const secretName = `${prefix}_CLUSTER_SECRET`;
  const fileName = `${prefix}_CLUSTER_SECRET_FILE`;
  const secret = optional(vars, secretName);
  const secretFile = optional(vars, fileName);
  if (secret !== undefined && secretFile !== undefined) throw new InvalidEnvError(secretName, `set ${secretName} or ${fileName}, not both`);
  if (secretFile !== undefined && secretFile.includes('\0')) throw new InvalidEnvError(fileName, 'a path may not contain NUL');
  if (secret !== undefined) {
    try {
      parseClusterSecrets(secret, secretName);
    } catch (error) {
      throw new InvalidEnvError(secretName, (error as Error).message.replace(`${secretName}: `, ''));
    }
  }
  return Object.freeze({ ...(secret === undefined ? {} : { secret }), ...(secretFile === undefined ? {} : { secretFile }) });
}
