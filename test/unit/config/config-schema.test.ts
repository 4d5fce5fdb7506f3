/**
 * The schema is the single source of the configuration: these tests fail when a resolved option of the
 * library has no schema entry (an option added elsewhere and not here), when a schema default or range
 * differs from what the `resolve*Options` validators do, when the live flags promise what a running
 * proxy cannot apply, and when the generated docs are stale (`npm run docs:config`).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from '@jest/globals';
import { resolveAdminOptions } from '../../../src/proxy/admin/admin-options.js';
import { resolveClusterOptions } from '../../../src/proxy/cluster/cluster-options.js';
import { README_TABLE_END, README_TABLE_START, configurationDoc, readmeTable } from '../../../src/proxy/config/config-doc.js';
import { liveSettings } from '../../../src/proxy/config/config-changes.js';
import { CONFIG_SCHEMA, OTHER_PROXY_VARIABLES, SCHEMA_BY_PATH } from '../../../src/proxy/config/config-schema.js';
import { type ConfigTree, setIn } from '../../../src/proxy/config/config-tree.js';
import { checkResolvable, loadConfig } from '../../../src/proxy/config/load-config.js';
import { RESTART_ONLY_LIMITS, resolveControlPlaneOptions } from '../../../src/proxy/control-plane/control-plane-options.js';
import { resolveDataPlaneOptions } from '../../../src/proxy/data-plane/data-plane-options.js';
import { LIVE_DATA_PLANE_OPTIONS } from '../../../src/proxy/data-plane/live-options.js';
import { SELECTORS } from '../../../src/proxy/data-plane/selectors/index.js';
import { resolveFleetOptions } from '../../../src/proxy/fleet/fleet-options.js';
import { resolveAcmeOptions } from '../../../src/proxy/acme/acme-options.js';
import { resolveProxyOptions } from '../../../src/proxy/proxy-options.js';
import { BackendRegistry } from '../../../src/proxy/registry/backend-registry.js';
import { resolveDiscoveryOptions } from '../../../src/shared/discovery/discovery-options.js';
import { ENV_DEFAULTS } from '../../../src/shared/env.js';
import { TrustStore } from '../../../src/shared/trust/index.js';

/** Resolved options that a file cannot hold (objects of the embedder's). */
const NOT_FILE_OPTIONS = new Set(['tls', 'logger', 'control.tls', 'control.gatekeepers', 'control.ownListeners', 'workerExec', 'acme.storage']);
/** Resolved fields the file spells otherwise (`accessLog: { query }` resolves into `accessLogQuery`). */
const SPELLED = new Map([['accessLogQuery', 'accessLog.query']]);

/** A plain object of data (not a matcher with methods such as the resolved `trustedProxies`). */
function isPlainData(value: unknown): value is object {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype && !Object.values(value).some((item) => typeof item === 'function');
}

const REDIS_URL = 'redis://127.0.0.1:6379';
/** A cluster secret of full strength (LAN discovery). */
const CLUSTER_SECRET = randomBytes(32).toString('base64');
const ACME_URL = 'https://acme.example/directory';

/** Every resolved option of the library as `path -> resolved default`. */
function resolvedDefaults(): Map<string, unknown> {
  const found = new Map<string, unknown>();
  // Nested plain objects (an options section another part adds) are walked: each leaf needs its entry.
  const add = (prefix: string, object: object): void => {
    for (const [key, value] of Object.entries(object)) {
      const path = SPELLED.get(`${prefix}${key}`) ?? `${prefix}${key}`;
      if (NOT_FILE_OPTIONS.has(path)) continue;
      if (isPlainData(value)) add(`${path}.`, value);
      else found.set(path, value);
    }
  };
  const dataPlane = resolveDataPlaneOptions({});
  add('', dataPlane);
  const control = resolveControlPlaneOptions({ insecure: true, registry: new BackendRegistry(), trustStore: TrustStore.inMemory() });
  const { limits, ...rest } = control;
  add('control.', rest);
  add('control.limits.', limits);
  add('admin.', resolveAdminOptions({}));
  found.set('certstore', resolveProxyOptions({ control: false }).certstore);
  const { connection, ...fleet } = resolveFleetOptions({ url: REDIS_URL }, 3042);
  add('trustStore.redis.', { ...connection, ...fleet });
  add('acme.', resolveAcmeOptions({ directoryUrl: ACME_URL }));
  // Discovery: the resolved options (lifetimeMs is computed from intervalMs and lifetimeIntervals), plus
  // the proxy's own fields, whose defaults are computed at start or true.
  const { keyring: _keyring, lifetimeMs: _lifetimeMs, ...discovery } = resolveDiscoveryOptions({ secret: CLUSTER_SECRET });
  add('discovery.', { secret: undefined, proxyId: undefined, ...discovery, peers: true, answerProbes: true });
  const cluster = resolveClusterOptions({ workers: 1, control: false });
  for (const name of ['workers', 'logLevel', 'reportIntervalMs', 'respawnDelayMs', 'respawnMaxDelayMs'] as const) found.set(name, cluster[name]);
  return found;
}

/** A resolved default in the shape the schema writes it. */
function asWritten(path: string, value: unknown): unknown {
  if (path === 'selector') return Object.entries(SELECTORS).find(([, factory]) => factory === value)?.[0];
  if (path === 'trustedProxies') return (value as { empty: boolean }).empty ? [] : value;
  if (value instanceof Set) return [...(value as Set<unknown>)];
  return value;
}

describe('the configuration schema', () => {
  const resolved = resolvedDefaults();

  it('has an entry for every option the library resolves (add new options to src/proxy/config/config-schema.ts)', () => {
    const missing = [...resolved.keys()].filter((path) => !SCHEMA_BY_PATH.has(path));
    expect(missing).toEqual([]);
  });

  it('gives each its default as the library resolves it (or says how it is computed)', () => {
    for (const [path, value] of resolved) {
      const spec = SCHEMA_BY_PATH.get(path)!;
      if ((spec.default === undefined && value === undefined) || spec.required === true) continue;
      if (spec.default === undefined) {
        expect({ path, defaultText: spec.defaultText }).toEqual({ path, defaultText: expect.any(String) });
      } else {
        expect({ path, value: spec.default }).toEqual({ path, value: asWritten(path, value) });
      }
    }
  });

  it('names only options that exist (every leaf is resolved by the library, or read by the command)', () => {
    const unknown = CONFIG_SCHEMA.filter((spec) => spec.type !== 'section' && spec.consumer !== 'command' && !resolved.has(spec.path) && spec.path !== 'control.insecure');
    expect(unknown.map((spec) => spec.path)).toEqual([]);
  });

  it('has the ranges the library validators enforce: each bound accepted, one step beyond refused', async () => {
    const defaults = structuredClone((await loadConfig({ variables: {}, cwd: '/nonexistent' })).values) as ConfigTree;
    // Bounds that depend on another option: set that one so the bound itself is what is probed.
    const context: Record<string, Record<string, unknown>> = {
      clientHeadersTimeoutMs: { clientRequestTimeoutMs: 0 },
      respawnMaxDelayMs: { respawnDelayMs: 10 },
      respawnDelayMs: { respawnMaxDelayMs: 600_000 },
      'control.limits.maxPendingUnknownHandshakes': { 'control.limits.maxPendingHandshakes': 100_000 },
      'trustStore.redis.streamBlockMs': { 'trustStore.redis.trustMaxStalenessMs': 3_600_000 },
      'acme.retryMaxMs': { 'acme.retryMinMs': 10 },
      'acme.retryMinMs': { 'acme.retryMaxMs': 604_800_000 },
    };
    const verdict = (path: string, value: number): string => {
      const values = structuredClone(defaults);
      // The cluster's own options are validated only for a cluster, the fleet's only in a fleet.
      if (SCHEMA_BY_PATH.get(path)?.consumer === 'cluster') values.workers = 2;
      if (path.startsWith('trustStore.redis.')) setIn(values, 'trustStore.redis.url', REDIS_URL);
      if (path.startsWith('acme.')) setIn(values, 'acme.directoryUrl', ACME_URL);
      if (path.startsWith('discovery.')) setIn(values, 'discovery.secret', CLUSTER_SECRET);
      for (const [other, setting] of Object.entries(context[path] ?? {})) setIn(values, other, setting);
      setIn(values, path, value);
      try {
        checkResolvable(values, 'probe');
        return 'accepted';
      } catch {
        return 'refused';
      }
    };
    const checked: string[] = [];
    for (const spec of CONFIG_SCHEMA) {
      if (spec.type !== 'integer' && spec.type !== 'number') continue;
      const step = spec.type === 'integer' ? 1 : 0.01;
      const outcome = {
        min: verdict(spec.path, spec.min!),
        max: verdict(spec.path, spec.max!),
        below: verdict(spec.path, spec.min! - step),
        above: verdict(spec.path, spec.max! + step),
      };
      expect({ path: spec.path, outcome }).toEqual({ path: spec.path, outcome: { min: 'accepted', max: 'accepted', below: 'refused', above: 'refused' } });
      checked.push(spec.path);
    }
    expect(checked.length).toBeGreaterThan(40);
  });

  it('marks live exactly what a running proxy applies', () => {
    const liveTopLevel = CONFIG_SCHEMA.filter((spec) => spec.live && !spec.path.includes('.') && spec.consumer === undefined).map((spec) => spec.path);
    expect(liveTopLevel.sort()).toEqual([...LIVE_DATA_PLANE_OPTIONS].sort());
    const restartLimits = CONFIG_SCHEMA.filter((spec) => spec.path.startsWith('control.limits.') && !spec.live).map((spec) => spec.path.slice('control.limits.'.length));
    expect(restartLimits.sort()).toEqual([...RESTART_ONLY_LIMITS].sort());
    for (const spec of CONFIG_SCHEMA.filter((entry) => entry.live && entry.path !== 'watchConfig')) {
      const values: ConfigTree = {};
      setIn(values, spec.path, spec.default ?? 1);
      expect({ path: spec.path, applied: Object.keys(liveSettings(values, [spec.path])).length }).toEqual({ path: spec.path, applied: 1 });
    }
  });

  it('reads every variable src/shared/env.ts knows (a variable added there needs its schema entry)', () => {
    const read = new Set([...CONFIG_SCHEMA.flatMap((spec) => (spec.env === undefined ? [] : [spec.env])), ...OTHER_PROXY_VARIABLES]);
    expect(Object.keys(ENV_DEFAULTS).filter((name) => !read.has(name))).toEqual([]);
  });

  it('lists every variable in .env.example', async () => {
    const example = await readFile(new URL('../../../.env.example', import.meta.url), 'utf8');
    for (const spec of CONFIG_SCHEMA) if (spec.env !== undefined) expect(example).toMatch(new RegExp(`^${spec.env}=`, 'm'));
  });
});

describe('the generated docs', () => {
  it('docs/configuration.md is what the schema renders (run npm run docs:config)', async () => {
    const doc = await readFile(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    expect(doc).toBe(configurationDoc());
  });

  it("the README's option table is what the schema renders (run npm run docs:config)", async () => {
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf(README_TABLE_START);
    const end = readme.indexOf(README_TABLE_END);
    expect(start).toBeGreaterThan(-1);
    expect(readme.slice(start, end + README_TABLE_END.length)).toBe(readmeTable());
  });

  it('documents every option by its path', () => {
    const doc = configurationDoc();
    for (const spec of CONFIG_SCHEMA) expect(doc).toContain(`| \`${spec.path}\` |`);
  });
});
