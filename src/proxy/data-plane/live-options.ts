/**
 * The data-plane options a running data plane can change without a restart: they are read per request
 * (selector, status, trusted proxies, access log) or per upstream dispatch (timeouts), so a change
 * applies to new requests and leaves requests in flight as they were dispatched.
 */
import { type DataPlaneOptions, type ResolvedDataPlaneOptions, resolveDataPlaneOptions } from './data-plane-options.js';

/** Names of the options {@link DataPlane.reconfigure} applies. */
export const LIVE_DATA_PLANE_OPTIONS = Object.freeze([
  'selector',
  'noTargetStatus',
  'trustedProxies',
  'connectTimeoutMs',
  'responseTimeoutMs',
  'bodyTimeoutMs',
  'accessLog',
] as const);

/** A name of {@link LIVE_DATA_PLANE_OPTIONS}. */
export type LiveDataPlaneOption = (typeof LIVE_DATA_PLANE_OPTIONS)[number];

/** New values of some live options; an absent field keeps its current value. */
export type LiveDataPlaneOptions = Pick<DataPlaneOptions, LiveDataPlaneOption>;

/**
 * The current options with the given live ones replaced, validated by the same resolver as at
 * construction, and frozen.
 *
 * @throws {InvalidOptionError} naming the option; nothing is applied then.
 */
export function withLiveOptions(current: ResolvedDataPlaneOptions, change: LiveDataPlaneOptions): ResolvedDataPlaneOptions {
  const names = LIVE_DATA_PLANE_OPTIONS.filter((name) => change[name] !== undefined);
  const checked = resolveDataPlaneOptions(Object.fromEntries(names.map((name) => [name, change[name]])));
  // `accessLog` resolves into two fields (whether, and whether with the query string).
  const fields: (keyof ResolvedDataPlaneOptions)[] = names.flatMap((name) => (name === 'accessLog' ? ['accessLog', 'accessLogQuery'] as const : [name]));
  const replaced = Object.fromEntries(fields.map((name) => [name, checked[name]])) as Partial<ResolvedDataPlaneOptions>;
  return Object.freeze({ ...current, ...replaced });
}
