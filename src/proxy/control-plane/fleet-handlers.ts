/**
 * Admin message `fleet.list`: the proxies this one sees sharing its trust (Redis membership), itself
 * included, and whether its trust store may be used right now. A proxy without Redis lists only itself.
 */
import type { ControlContext } from './control-context.js';

/** One proxy as `fleet.list` reports it. */
export interface FleetNodeSummary {
  readonly id: string;
  readonly addresses: readonly string[];
  readonly pin?: string;
  readonly startedAt: string;
  /** True for the proxy answering. */
  readonly self: boolean;
}

/** The answer to `fleet.list`. */
export interface FleetSummary {
  /** True when the fleet shares its trust on Redis. */
  readonly shared: boolean;
  readonly trust: { readonly kind: string; readonly ok: boolean; readonly reason?: string };
  readonly nodes: readonly FleetNodeSummary[];
}

/** What the control plane reads to answer `fleet.list` (given by the host). */
export interface FleetSource {
  fleet(): FleetSummary;
}

/** Handles `fleet.list`. A control plane without a host (tests, embedding) lists no node. */
export function handleFleetList(context: ControlContext): FleetSummary {
  if (context.fleet !== undefined) return context.fleet.fleet();
  const health = context.trustStore.health();
  return { shared: false, trust: { kind: context.trustStore.kind, ok: health.ok, ...(health.reason === undefined ? {} : { reason: health.reason }) }, nodes: [] };
}
