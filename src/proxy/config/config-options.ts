/**
 * From a loaded configuration to the options of `ProxyServer` (one process) or `ClusterPrimary`
 * (`workers` > 1): the file's keys are those options' names, so this only drops what the command reads
 * itself (certificate paths, `logLevel`, `workers`, `watchConfig`, ...) and, for one process, the
 * cluster's own options. The PEM files and the logger are added by the caller.
 */
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../../shared/env.js';
import { type ClusterOptions, resolveWorkers } from '../cluster/cluster-options.js';
import { CONFIG_SCHEMA } from './config-schema.js';
import { type ConfigTree, getIn, isTree } from './config-tree.js';

/** The plain (file-expressible) options of a `ProxyServer` or `ClusterPrimary`. */
export type PlainServerOptions = Omit<ClusterOptions, 'workers' | 'tls' | 'upstreamCa' | 'logger' | 'trustStore' | 'workerExec'>;

function copy(tree: ConfigTree): ConfigTree {
  const out: ConfigTree = {};
  for (const [key, value] of Object.entries(tree)) out[key] = isTree(value) ? copy(value) : Array.isArray(value) ? [...(value as unknown[])] : value;
  return out;
}

function remove(tree: ConfigTree, path: string): void {
  const keys = path.split('.');
  let node: unknown = tree;
  for (const key of keys.slice(0, -1)) node = isTree(node) ? node[key] : undefined;
  if (isTree(node)) delete node[keys[keys.length - 1]!];
}

/**
 * The options the configuration gives the proxy (`single`) or the cluster primary (`cluster`). The
 * values were checked against the schema; the library's resolvers check them again at `new`.
 */
export function plainServerOptions(values: ConfigTree, mode: 'single' | 'cluster'): PlainServerOptions {
  const options = copy(values);
  for (const spec of CONFIG_SCHEMA) {
    if (spec.consumer === 'command' || (spec.consumer === 'cluster' && mode === 'single')) remove(options, spec.path);
  }
  return options as PlainServerOptions;
}

/** The options `inteli-proxy` reads itself rather than passing them on. */
export interface CommandSettings {
  /** PEM certificate file of HTTPS and the control plane. */
  readonly tlsCert: string;
  /** PEM private key file. */
  readonly tlsKey: string;
  /** PEM file of extra CAs for `https` targets, if any. */
  readonly upstreamCa: string | undefined;
  /** Where the first start writes the admin key pair. */
  readonly keyDir: string;
  readonly logLevel: LogLevel;
  /** `auto` (pretty on a terminal), `json` or `pretty`. */
  readonly logFormat: LogFormat;
  /** Worker processes (`auto` resolved); 1 runs one process. */
  readonly workers: number;
  /** The fleet's Redis URL (`trustStore.redis.url`), when the proxy joins a fleet. */
  readonly redisUrl: string | undefined;
}

/** The command's own settings from a loaded configuration (validated by the schema already). */
export function commandSettings(values: ConfigTree): CommandSettings {
  const text = (path: string): string => String(getIn(values, path));
  return Object.freeze({
    tlsCert: text('tls.cert'),
    tlsKey: text('tls.key'),
    upstreamCa: values.upstreamCa === undefined ? undefined : text('upstreamCa'),
    keyDir: text('keyDir'),
    logLevel: LOG_LEVELS.find((level) => level === values.logLevel) ?? 'info',
    logFormat: LOG_FORMATS.find((format) => format === values.logFormat) ?? 'auto',
    workers: resolveWorkers(values.workers),
    redisUrl: getIn(values, 'trustStore.redis.url') === undefined ? undefined : text('trustStore.redis.url'),
  });
}
