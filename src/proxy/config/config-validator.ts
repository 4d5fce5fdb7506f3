/**
 * Validates a parsed configuration file against the schema: every key must be known (an unknown one is
 * refused with the closest known name), every value of its type and range, every section an object.
 * The error names the file, the line when known, the key's path and what was expected. What the file
 * does not set is left out: defaults are applied after the environment (see `load-config.ts`).
 */
import { InvalidConfigError } from '../../shared/errors.js';
import type { ConfigFile } from './config-file.js';
import { CONFIG_SCHEMA, SCHEMA_BY_PATH } from './config-schema.js';
import { type ConfigTree, isTree } from './config-tree.js';
import { didYouMean } from './did-you-mean.js';
import { checkValue } from './option-value.js';

function parentOf(path: string): string {
  const dot = path.lastIndexOf('.');
  return dot === -1 ? '' : path.slice(0, dot);
}

function lastKey(path: string): string {
  return path.slice(path.lastIndexOf('.') + 1);
}

/** "did you mean" for an unknown key: a sibling first, else an option of that name elsewhere. */
function suggestion(path: string): string {
  const parent = parentOf(path);
  const key = lastKey(path);
  const siblings = CONFIG_SCHEMA.filter((spec) => parentOf(spec.path) === parent).map((spec) => lastKey(spec.path));
  const sibling = didYouMean(key, siblings);
  if (sibling !== undefined) return `; did you mean "${parent === '' ? sibling : `${parent}.${sibling}`}"?`;
  const elsewhere = CONFIG_SCHEMA.filter((spec) => spec.type !== 'section' && lastKey(spec.path) === key).map((spec) => spec.path);
  if (elsewhere.length > 0) return `; did you mean "${elsewhere[0]}"?`;
  const anywhere = didYouMean(key, CONFIG_SCHEMA.map((spec) => lastKey(spec.path)));
  const match = CONFIG_SCHEMA.find((spec) => lastKey(spec.path) === anywhere);
  return match === undefined ? '' : `; did you mean "${match.path}"?`;
}

/**
 * Checks `source.data` against the schema and returns the values it sets.
 *
 * @throws {InvalidConfigError} naming the file, line, key path and what was expected.
 */
export function validateConfig(source: ConfigFile): ConfigTree {
  const fail = (path: string, message: string): never => {
    const line = source.lineOf(path.split('.'));
    throw new InvalidConfigError(source.file, path, message, line === undefined ? {} : { line });
  };
  const walk = (node: ConfigTree, prefix: string): ConfigTree => {
    const out: ConfigTree = {};
    for (const [key, value] of Object.entries(node)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      // A dotted name would match a nested option's path here but never be read: refuse it.
      if (key.includes('.')) return fail(path, 'unknown key; nest the sections (control: { limits: { burst: 80 } }) instead of a dotted name');
      const spec = SCHEMA_BY_PATH.get(path);
      if (spec === undefined) return fail(path, `unknown key${suggestion(path)}`);
      const error = checkValue(spec, value);
      if (error !== undefined) return fail(path, error);
      out[key] = (spec.type === 'section' || spec.orSection === true) && isTree(value) ? walk(value, path) : value;
    }
    return out;
  };
  // An empty file (YAML null) configures nothing.
  if (source.data === null || source.data === undefined) return {};
  if (!isTree(source.data)) {
    throw new InvalidConfigError(source.file, undefined, 'expected a mapping of option names to values at the top level');
  }
  return walk(source.data, '');
}
