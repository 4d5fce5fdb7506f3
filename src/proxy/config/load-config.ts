/**
 * Loads the configuration of `inteli-proxy`: the file (when there is one), then the environment over it,
 * then the schema's defaults for what neither sets; and checks the result with the same
 * `resolve*Options` validators the library uses, so a file that passes here cannot fail at `new`.
 */
import { randomBytes } from 'node:crypto';
import { InvalidConfigError, InvalidOptionError, isProxyError } from '../../shared/errors.js';
import { TrustStore } from '../../shared/trust/index.js';
import { resolveRedisTrustStoreOptions } from '../../shared/trust/redis/redis-trust-store-options.js';
import { resolveClusterOptions, resolveWorkers } from '../cluster/cluster-options.js';
import { type ControlPlaneOptions, resolveControlPlaneOptions } from '../control-plane/control-plane-options.js';
import { resolveProxyOptions } from '../proxy-options.js';
import { BackendRegistry } from '../registry/backend-registry.js';
import { findConfigFile, readConfigFile } from './config-file.js';
import { plainServerOptions } from './config-options.js';
import { CONFIG_SCHEMA, SCHEMA_BY_PATH } from './config-schema.js';
import { type ConfigTree, freezeTree, getIn, isTree, setIn } from './config-tree.js';
import { validateConfig } from './config-validator.js';
import { applyVariables, inAbsentSection, unknownVariableWarnings } from './config-variables.js';

/** A loaded, validated configuration. */
export interface LoadedConfig {
  /** The configuration file read, or undefined when none was given or found. */
  readonly file: string | undefined;
  /** Every option with its value (file, then variable, then default), nested as in the file; frozen. */
  readonly values: ConfigTree;
  /** Unknown `PROXY_*` variables, one line each (logged at start). */
  readonly warnings: readonly string[];
}

/** Where {@link loadConfig} reads from. */
export interface ConfigSources {
  /** The set environment variables (`readVariables()` from `src/shared/env.ts`). */
  readonly variables: Readonly<Record<string, string>>;
  /** Where `inteli.yaml` / `inteli.yml` / `inteli.json` are looked for. */
  readonly cwd: string;
}

/** True when a section on the way to `path` is `false` (`admin: false`): its options do not apply. */
function disabled(tree: ConfigTree, path: string): boolean {
  const keys = path.split('.');
  for (let index = 1; index < keys.length; index += 1) {
    if (getIn(tree, keys.slice(0, index).join('.')) === false) return true;
  }
  return false;
}

/** The same values with every section's keys in schema order (as the docs and `--check-config` list them). */
function inSchemaOrder(tree: ConfigTree): ConfigTree {
  const ordered: ConfigTree = {};
  for (const spec of CONFIG_SCHEMA) {
    const value = getIn(tree, spec.path);
    if (value !== undefined && !disabled(tree, spec.path)) setIn(ordered, spec.path, spec.type === 'section' && value !== false ? (getIn(ordered, spec.path) ?? {}) : value);
  }
  return ordered;
}

/**
 * True when `path`'s parent is an option that may be a value or an object (`accessLog`) and is not an
 * object here: `accessLog: true` keeps its value, its entries' defaults are the library's.
 */
function underScalar(tree: ConfigTree, path: string): boolean {
  const dot = path.lastIndexOf('.');
  if (dot === -1) return false;
  const parent = SCHEMA_BY_PATH.get(path.slice(0, dot));
  return parent?.orSection === true && !isTree(getIn(tree, parent.path));
}

/** Fills in the schema's defaults for what neither the file nor a variable set (not in absent optional sections). */
export function applyDefaults(tree: ConfigTree): void {
  for (const spec of CONFIG_SCHEMA) {
    if (spec.type === 'section' || spec.default === undefined || disabled(tree, spec.path) || inAbsentSection(tree, spec.path) || underScalar(tree, spec.path)) continue;
    if (getIn(tree, spec.path) === undefined) setIn(tree, spec.path, spec.default);
  }
}

/** The `discovery` section as `ProxyServer` gets it: `secretFile` (read at start) replaced by a placeholder secret. */
function discoveryWithoutFile(discovery: ConfigTree): ConfigTree {
  const { secretFile, ...rest } = discovery;
  if (secretFile !== undefined && rest.secret !== undefined) throw new InvalidOptionError('discovery: set secret or secretFile, not both');
  return secretFile === undefined ? rest : { ...rest, secret: randomBytes(32).toString('base64') };
}

/**
 * Runs the library's validators over the configuration (cross-option rules such as
 * `clientHeadersTimeoutMs <= clientRequestTimeoutMs` or auth off loopback live there). Nothing is built,
 * bound or read.
 *
 * @throws {InvalidConfigError} naming `origin` (the file, or `environment`) with the validator's message.
 */
export function checkResolvable(values: ConfigTree, origin: string): void {
  try {
    const workers = resolveWorkers(values.workers);
    // Placeholders: the PEM files are read at start, not here.
    const files = { tls: { cert: 'PEM', key: 'PEM' }, ...(values.upstreamCa === undefined ? {} : { upstreamCa: 'PEM' }) };
    const acme = getIn(values, 'acme');
    const acmeFiles = isTree(acme) ? { acme: { ...acme, ...(acme.caCertificates === undefined ? {} : { caCertificates: 'PEM' }) } } : {};
    // The secret file is read at start; a placeholder of the right strength stands for it here.
    const discovery = getIn(values, 'discovery');
    if (isTree(discovery) && workers > 1) throw new InvalidOptionError('discovery: LAN discovery runs with workers: 1 only (for now)');
    const discoveryFile = isTree(discovery) ? { discovery: discoveryWithoutFile(discovery) } : {};
    const resolved =
      workers > 1
        ? resolveClusterOptions({ ...plainServerOptions(values, 'cluster'), ...files, workers })
        : resolveProxyOptions({ ...plainServerOptions(values, 'single'), ...files, ...(acmeFiles as object), ...(discoveryFile as object) });
    if (resolved.control !== undefined) {
      const control: ControlPlaneOptions = { ...resolved.control, registry: new BackendRegistry(), trustStore: TrustStore.inMemory() };
      resolveControlPlaneOptions(control);
    }
    // The fleet's store validates its stream options when it is built (as ProxyFleet builds it).
    const fleet = resolved.fleet;
    if (fleet !== undefined) {
      resolveRedisTrustStoreOptions({
        ...fleet.connection,
        trustMaxStalenessMs: fleet.trustMaxStalenessMs,
        ...(fleet.streamBlockMs === undefined ? {} : { streamBlockMs: fleet.streamBlockMs }),
      });
    }
  } catch (error) {
    if (isProxyError(error, 'RP_ERR_INVALID_OPTION') || isProxyError(error, 'RP_ERR_CLUSTER_SECRET')) throw new InvalidConfigError(origin, undefined, error.message, { cause: error });
    throw error;
  }
}

/**
 * Loads and validates the configuration.
 *
 * @throws {InvalidConfigError} naming the file (and line), the key's path and what was expected.
 * @throws {InvalidEnvError} naming the variable.
 */
export async function loadConfig(sources: ConfigSources): Promise<LoadedConfig> {
  const file = findConfigFile(sources.variables, sources.cwd);
  const tree = file === undefined ? {} : validateConfig(await readConfigFile(file));
  applyVariables(tree, sources.variables);
  applyDefaults(tree);
  const values = freezeTree(inSchemaOrder(tree));
  checkResolvable(values, file ?? 'environment');
  return Object.freeze({ file, values, warnings: Object.freeze(unknownVariableWarnings(sources.variables)) });
}
