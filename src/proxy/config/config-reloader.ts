/**
 * Reload without dropping anything: on SIGHUP (and, with `watchConfig: true`, when the file changes)
 * the configuration is loaded again; an invalid one is refused with a log line saying why and the
 * current one stays; otherwise the options that can change live are applied to new requests and
 * sessions (requests in flight keep theirs), and those that cannot are logged as needing a restart and
 * stay as they were. Reloads run one at a time.
 */
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Logger } from '../../shared/logger.js';
import type { LiveProxySettings } from '../proxy-host.js';
import { diffConfig, liveSettings } from './config-changes.js';
import { type ConfigTree, freezeTree, getIn, isTree, setIn } from './config-tree.js';
import type { LoadedConfig } from './load-config.js';

/** How often a watched configuration file is checked for changes, in ms. */
export const CONFIG_WATCH_INTERVAL_MS = 500;

/** What {@link ConfigReloader} needs. */
export interface ConfigReloaderOptions {
  /** Loads the configuration again (the file and the environment, validated). */
  readonly load: () => Promise<LoadedConfig>;
  /** The configuration the proxy started with. */
  readonly current: LoadedConfig;
  /** Applies live settings to the running proxy (`ProxyHost.reconfigure`). */
  readonly apply: (settings: LiveProxySettings) => Promise<void>;
  readonly logger: Logger;
}

/** What one reload did. */
export interface ReloadOutcome {
  /** Live options applied. */
  readonly applied: readonly string[];
  /** Changed options left as they were until a restart. */
  readonly restartRequired: readonly string[];
  /** Why the new configuration was refused (nothing changed then). */
  readonly error?: string;
}

/** Reloads the configuration of a running proxy. */
export class ConfigReloader {
  readonly #options: ConfigReloaderOptions;
  readonly #logger: Logger;
  #current: LoadedConfig;
  #queue: Promise<unknown> = Promise.resolve();
  #watched: string | undefined;
  #stopped = false;
  readonly #onFileChange = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs === previous.mtimeMs && current.size === previous.size && current.ino === previous.ino) return;
    void this.reload('file changed');
  };

  constructor(options: ConfigReloaderOptions) {
    this.#options = options;
    this.#current = options.current;
    this.#logger = options.logger.child({ component: 'config' });
  }

  /** The configuration in force: the latest accepted one, with restart-only options as started. */
  get current(): LoadedConfig {
    return this.#current;
  }

  /** Starts watching the file when `watchConfig` is true. Idempotent. */
  start(): void {
    this.#stopped = false;
    this.#updateWatch();
  }

  /** Stops watching. Idempotent; a reload under way still finishes. */
  stop(): void {
    this.#stopped = true;
    this.#updateWatch();
  }

  /** Loads and applies the configuration again; `trigger` names why in the logs (`SIGHUP`). */
  reload(trigger: string): Promise<ReloadOutcome> {
    const next = this.#queue.then(() => this.#reload(trigger));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #reload(trigger: string): Promise<ReloadOutcome> {
    let loaded: LoadedConfig;
    try {
      loaded = await this.#options.load();
    } catch (error) {
      const reason = (error as Error).message;
      this.#logger.error({ trigger, reason }, `configuration refused, keeping the current one: ${reason}`);
      return { applied: [], restartRequired: [], error: reason };
    }
    const before = this.#current.values;
    const changes = diffConfig(before, loaded.values);
    try {
      if (changes.live.length > 0) await this.#options.apply(liveSettings(loaded.values, changes.live));
    } catch (error) {
      const reason = (error as Error).message;
      this.#logger.error({ trigger, reason }, `configuration refused, keeping the current one: ${reason}`);
      return { applied: [], restartRequired: [], error: reason };
    }
    this.#current = Object.freeze({ ...loaded, values: keepRestartOnly(loaded.values, before, changes.restart) });
    for (const warning of loaded.warnings) this.#logger.warn(warning);
    if (changes.restart.length > 0) {
      this.#logger.warn({ trigger, options: changes.restart }, `changed options need a restart to take effect: ${changes.restart.join(', ')}`);
    }
    this.#logger.info({ trigger, file: loaded.file, applied: changes.live }, changes.live.length > 0 ? `configuration reloaded: ${changes.live.join(', ')}` : 'configuration reloaded: nothing to apply');
    this.#updateWatch();
    return { applied: changes.live, restartRequired: changes.restart };
  }

  #updateWatch(): void {
    const file = this.#current.file;
    const wanted = !this.#stopped && file !== undefined && this.#current.values.watchConfig === true ? file : undefined;
    if (wanted === this.#watched) return;
    if (this.#watched !== undefined) unwatchFile(this.#watched, this.#onFileChange);
    this.#watched = wanted;
    if (wanted !== undefined) {
      watchFile(wanted, { interval: CONFIG_WATCH_INTERVAL_MS, persistent: false }, this.#onFileChange);
      this.#logger.info({ file: wanted }, 'watching the configuration file');
    }
  }
}

/** `next` with the restart-only options that changed put back as they run (so they are reported until a restart). */
function keepRestartOnly(next: ConfigTree, running: ConfigTree, paths: readonly string[]): ConfigTree {
  if (paths.length === 0) return next;
  const tree = structuredClone(next) as ConfigTree;
  for (const path of paths) {
    const value = getIn(running, path);
    if (value === undefined) removeIn(tree, path);
    else setIn(tree, path, structuredClone(value));
  }
  return freezeTree(tree);
}

function removeIn(tree: ConfigTree, path: string): void {
  const keys = path.split('.');
  const parent = keys.length === 1 ? tree : getIn(tree, keys.slice(0, -1).join('.'));
  if (isTree(parent)) delete parent[keys[keys.length - 1]!];
}
