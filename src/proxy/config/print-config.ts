/**
 * What `inteli-proxy --check-config` prints: the resolved configuration (file, then variables, then
 * defaults) as YAML, secrets masked, after a comment naming where it came from.
 */
import { stringify } from 'yaml';
import { CONFIG_SCHEMA } from './config-schema.js';
import { getIn, setIn } from './config-tree.js';
import type { LoadedConfig } from './load-config.js';

/** What a secret's value is replaced with (as in the logs). */
export const MASK = '[redacted]';

/** The configuration's values with every secret replaced by {@link MASK}. */
export function maskedValues(config: LoadedConfig): Record<string, unknown> {
  const values = structuredClone(config.values) as Record<string, unknown>;
  for (const spec of CONFIG_SCHEMA) {
    if (spec.secret && getIn(values, spec.path) !== undefined) setIn(values, spec.path, MASK);
  }
  return values;
}

/** The text `--check-config` prints for a valid configuration. */
export function renderConfig(config: LoadedConfig): string {
  const origin = config.file === undefined ? 'no configuration file' : `file ${config.file}`;
  const warnings = config.warnings.map((warning) => `# warning: ${warning}\n`).join('');
  return `# inteli-proxy: the configuration is valid (${origin}; environment variables override it; secrets masked)\n${warnings}${stringify(maskedValues(config))}`;
}
