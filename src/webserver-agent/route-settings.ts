/**
 * What an agent asks of the proxy for the rules it registers, beyond the rules themselves: session
 * affinity (`cookie`, or `hash` on the client address or a header) and the body timeout. Validated at
 * construction like every other option, and sent in the `register` frame.
 */
import { InvalidOptionError } from '../shared/errors.js';
import { MAX_BODY_TIMEOUT_MS } from '../shared/protocol-guards.js';

/** Route settings of {@link ProxyWebServerOptions}. */
export interface RouteSettingsOptions {
  /**
   * Session affinity for the registered rules: `cookie` (the proxy sets a signed cookie naming this
   * target; Socket.IO and other apps with server-side sessions need it) or `hash` (consistent hashing of
   * the client address, or of `affinityHeader`). Default: the proxy's default (none unless configured).
   */
  affinity?: 'cookie' | 'hash';
  /** With `affinity: 'hash'`: the request header hashed instead of the client address. Default none. */
  affinityHeader?: string;
  /**
   * Longest silence between response body chunks on these rules, in ms, 0 (none) to 2147483647. SSE
   * (`text/event-stream`) and upgraded connections never have one. Default: the proxy's (60000).
   */
  bodyTimeoutMs?: number;
}

/** Validated route settings. */
export interface ResolvedRouteSettings {
  readonly affinity: 'cookie' | 'hash' | undefined;
  readonly affinityHeader: string | undefined;
  readonly bodyTimeoutMs: number | undefined;
}

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;

/** @throws {InvalidOptionError} naming the option. */
export function resolveRouteSettings(options: RouteSettingsOptions): ResolvedRouteSettings {
  const { affinity, affinityHeader, bodyTimeoutMs } = options;
  if (affinity !== undefined && affinity !== 'cookie' && affinity !== 'hash') throw new InvalidOptionError('affinity: expected "cookie" or "hash"');
  if (affinityHeader !== undefined) {
    if (typeof affinityHeader !== 'string' || !HEADER_NAME.test(affinityHeader)) throw new InvalidOptionError('affinityHeader: expected a header name of 1 to 64 token characters');
    if (affinity !== 'hash') throw new InvalidOptionError('affinityHeader: only with affinity "hash"');
  }
  if (bodyTimeoutMs !== undefined && (typeof bodyTimeoutMs !== 'number' || !Number.isInteger(bodyTimeoutMs) || bodyTimeoutMs < 0 || bodyTimeoutMs > MAX_BODY_TIMEOUT_MS)) {
    throw new InvalidOptionError(`bodyTimeoutMs: expected an integer from 0 to ${MAX_BODY_TIMEOUT_MS}`);
  }
  return Object.freeze({ affinity, affinityHeader: affinityHeader?.toLowerCase(), bodyTimeoutMs });
}

/** The settings that are set, as `register` frame fields (absent ones are left out). */
export function routeSettingsFields(settings: ResolvedRouteSettings): { affinity?: 'cookie' | 'hash'; affinityHeader?: string; bodyTimeoutMs?: number } {
  return {
    ...(settings.affinity === undefined ? {} : { affinity: settings.affinity }),
    ...(settings.affinityHeader === undefined ? {} : { affinityHeader: settings.affinityHeader }),
    ...(settings.bodyTimeoutMs === undefined ? {} : { bodyTimeoutMs: settings.bodyTimeoutMs }),
  };
}
