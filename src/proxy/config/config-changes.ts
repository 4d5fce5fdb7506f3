/**
 * What a reload changes: the options whose value differs between two loaded configurations, split into
 * those the schema marks live (applied at once, see {@link liveSettings}) and those that need a restart
 * (reported by name, never half-applied).
 */
import type { LogLevel } from '../../shared/env.js';
import type { ControlPlaneLimits } from '../control-plane/control-plane-options.js';
import { type LiveDataPlaneOptions, LIVE_DATA_PLANE_OPTIONS } from '../data-plane/live-options.js';
import type { LiveProxySettings } from '../proxy-host.js';
import { CONFIG_SCHEMA } from './config-schema.js';
import { type ConfigTree, getIn } from './config-tree.js';

/** The options a reload changes, by path. */
export interface ConfigChanges {
  /** Changed options that apply live. */
  readonly live: readonly string[];
  /** Changed options that need a restart. */
  readonly restart: readonly string[];
}

const LIMITS_PREFIX = 'control.limits.';

/** Compares two configurations option by option (a section turned on or off counts as its own change). */
export function diffConfig(before: ConfigTree, after: ConfigTree): ConfigChanges {
  const live: string[] = [];
  const restart: string[] = [];
  const toggled: string[] = [];
  for (const spec of CONFIG_SCHEMA) {
    // The options of a section turned on or off are that one change, not one each.
    if (toggled.some((section) => spec.path.startsWith(`${section}.`))) continue;
    const old = getIn(before, spec.path);
    const next = getIn(after, spec.path);
    const changed = spec.type === 'section' ? (old === false) !== (next === false) : JSON.stringify(old) !== JSON.stringify(next);
    if (!changed) continue;
    if (spec.type === 'section') toggled.push(spec.path);
    (spec.live ? live : restart).push(spec.path);
  }
  return Object.freeze({ live: Object.freeze(live), restart: Object.freeze(restart) });
}

/** The settings a running host applies for the given live paths of `values` (see `ProxyHost.reconfigure`). */
export function liveSettings(values: ConfigTree, paths: readonly string[]): LiveProxySettings {
  const dataPlane: Record<string, unknown> = {};
  const limits: Record<string, unknown> = {};
  let logLevel: LogLevel | undefined;
  for (const path of paths) {
    // An entry inside a data-plane option (`accessLog.query`) applies through that option as a whole.
    const top = path.split('.')[0]!;
    if ((LIVE_DATA_PLANE_OPTIONS as readonly string[]).includes(top)) dataPlane[top] = getIn(values, top);
    else if (path === 'logLevel') logLevel = getIn(values, path) as LogLevel;
  }
  // Limits go as a whole (every live one, unset ones as undefined): a limit whose default is computed
  // from another (`maxPendingUnknownHandshakes` from `maxPendingHandshakes`) is then computed again.
  if (paths.some((path) => path.startsWith(LIMITS_PREFIX))) {
    for (const spec of CONFIG_SCHEMA) {
      if (spec.live && spec.path.startsWith(LIMITS_PREFIX)) limits[spec.path.slice(LIMITS_PREFIX.length)] = getIn(values, spec.path);
    }
  }
  return {
    ...(Object.keys(dataPlane).length === 0 ? {} : { dataPlane: dataPlane as LiveDataPlaneOptions }),
    ...(Object.keys(limits).length === 0 ? {} : { limits: limits as ControlPlaneLimits }),
    ...(logLevel === undefined ? {} : { logLevel }),
  };
}
