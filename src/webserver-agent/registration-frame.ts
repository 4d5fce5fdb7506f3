/**
 * The `register` frame an agent sends on every (re)connection, in one place so that each proxy session
 * declares exactly the same thing and a new registration field is added once.
 */
import type { TargetSpec } from '../shared/protocol.js';
import { advertisedTarget } from './advertised-target.js';
import type { ResolvedAgentOptions } from './agent-options.js';
import { routeSettingsFields } from './route-settings.js';

/** A `register` request without its `id` (the connection adds it). */
export interface RegistrationFrame {
  readonly type: 'register';
  readonly targets: TargetSpec[];
  readonly rules: ResolvedAgentOptions['rules'];
  readonly weight?: number;
  readonly meta?: Readonly<Record<string, string>>;
  /** Session affinity asked for the rules (see `route-settings.ts`). */
  readonly affinity?: 'cookie' | 'hash';
  /** With `hash` affinity: the header hashed instead of the client address. */
  readonly affinityHeader?: string;
  /** Longest silence between response body chunks on the rules, in ms. */
  readonly bodyTimeoutMs?: number;
  readonly [field: string]: unknown;
}

/**
 * Builds the frame; `localAddress` is the control socket's local address, which replaces a wildcard bind.
 *
 * @throws {InvalidOptionError} when no target port is known.
 */
export function registrationFrame(options: ResolvedAgentOptions, localAddress: string | undefined): RegistrationFrame {
  const target = advertisedTarget(options.target, options.server, localAddress);
  return {
    type: 'register',
    targets: [target],
    rules: options.rules,
    ...(options.weight === undefined ? {} : { weight: options.weight }),
    ...(options.meta === undefined ? {} : { meta: options.meta }),
    ...routeSettingsFields(options.routeSettings),
  };
}
