/**
 * The environment's part of the configuration: each schema entry with a variable takes that variable's
 * value over the file's (parsed and checked by the entry, the error naming the variable), and a
 * `PROXY_*` variable no entry knows is reported with the closest known name, since a typo there would
 * otherwise be silently ignored.
 */
import { InvalidEnvError } from '../../shared/errors.js';
import { CONFIG_SCHEMA, OTHER_PROXY_VARIABLES } from './config-schema.js';
import { type ConfigTree, getIn, setIn } from './config-tree.js';
import { didYouMean } from './did-you-mean.js';
import { parseVariable } from './option-value.js';

/** Every variable the proxy reads. */
export function knownVariables(): string[] {
  return [...CONFIG_SCHEMA.flatMap((spec) => (spec.env === undefined ? [] : [spec.env])), ...OTHER_PROXY_VARIABLES];
}

/** True when `path` lies in an optional section (`trustStore.redis`) that `tree` does not have. */
export function inAbsentSection(tree: ConfigTree, path: string): boolean {
  return CONFIG_SCHEMA.some((section) => section.optional === true && path.startsWith(`${section.path}.`) && getIn(tree, section.path) === undefined);
}

/**
 * Writes the values of the set variables into `tree` (over the file's). The variable of a `required`
 * entry (`PROXY_REDIS_URL`) creates its optional section; the others of that section apply only when
 * it exists, so that `PROXY_REDIS_PREFIX` copied from `.env.example` alone joins no fleet.
 *
 * @throws {InvalidEnvError} naming the first invalid variable.
 */
export function applyVariables(tree: ConfigTree, variables: Readonly<Record<string, string>>): void {
  const ordered = [...CONFIG_SCHEMA.filter((spec) => spec.required === true), ...CONFIG_SCHEMA.filter((spec) => spec.required !== true)];
  for (const spec of ordered) {
    if (spec.env === undefined) continue;
    const raw = variables[spec.env];
    if (raw === undefined) continue;
    const parsed = parseVariable(spec, raw);
    if ('error' in parsed) throw new InvalidEnvError(spec.env, parsed.error);
    if (spec.required !== true && inAbsentSection(tree, spec.path)) continue;
    setIn(tree, spec.path, parsed.value);
  }
}

/** One warning per set `PROXY_*` variable that nothing reads, with a "did you mean" when one is close. */
export function unknownVariableWarnings(variables: Readonly<Record<string, string>>): string[] {
  const known = knownVariables();
  const warnings: string[] = [];
  for (const name of Object.keys(variables).sort()) {
    if (!name.startsWith('PROXY_') || known.includes(name)) continue;
    const close = didYouMean(name, known);
    warnings.push(`unknown variable ${name} is ignored${close === undefined ? '' : `; did you mean ${close}?`}`);
  }
  return warnings;
}
