/**
 * Turns a `register` frame into a verified registration: rules parsed and normalised, limits applied,
 * every rule and target checked against the key's scope, then the gatekeepers (legiond's admission
 * hooks) consulted on that verified data only. Any failure throws a {@link ProxyError} whose code goes
 * back to the agent; nothing reaches the registry unless every check passed.
 */
import { ProxyError } from '../../shared/errors.js';
import type { RegisterMessage } from '../../shared/protocol.js';
import type { RouteRule, RouteSettings, TargetAddress } from '../registry/backend.js';
import { DEFAULT_BACKEND_WEIGHT } from '../registry/backend-registry.js';
import type { ResolvedLimits } from './control-plane-options.js';
import { parseRuleSpec } from './rule-spec.js';
import { compileScope, ruleInScope, targetInScope } from './scope.js';
import type { VerifiedIdentity } from './token-verifier.js';

/** A registration that passed validation and the scope check. Frozen. */
export interface Registration extends RouteSettings {
  /** The authenticated agent id (from the connection, never from the frame). */
  readonly agentId: string;
  /** Thumbprint of the agent's key. */
  readonly fingerprint: string;
  /** Address of the agent's control socket as the proxy sees it. */
  readonly remoteAddress: string | undefined;
  readonly targets: readonly TargetAddress[];
  readonly rules: readonly RouteRule[];
  readonly weight: number;
  readonly meta: Readonly<Record<string, string>>;
}

/**
 * An admission hook: runs after authentication and the scope check; a rejection (any thrown error or
 * rejected promise) refuses the registration with the error's message, as `RP_ERR_REJECTED`.
 */
export type Gatekeeper = (identity: VerifiedIdentity, registration: Registration) => Promise<void>;

function ruleKey(rule: RouteRule): string {
  return `${rule.host ?? ''}\u0000${rule.path}`;
}

/** A stable key for the set of targets, used to recognise the same server registering again. */
export function targetSetKey(targets: readonly TargetAddress[]): string {
  return targets
    .map((target) => `${target.protocol}://${target.host}:${target.port}`)
    .sort()
    .join(' ');
}

/**
 * Validates a register frame against the limits and the identity's scope.
 *
 * @throws {ProxyError} `RP_ERR_LIMIT_EXCEEDED` (too many rules or targets), `RP_ERR_INVALID_MESSAGE`
 * (a rule does not parse) or `RP_ERR_OUT_OF_SCOPE` (a rule or target outside the key's scope).
 */
export function verifyRegistration(
  message: RegisterMessage,
  identity: VerifiedIdentity,
  remoteAddress: string | undefined,
  limits: ResolvedLimits,
): Registration {
  if (message.rules.length > limits.maxRulesPerRegistration) {
    throw new ProxyError('RP_ERR_LIMIT_EXCEEDED', `at most ${limits.maxRulesPerRegistration} rules per registration, got ${message.rules.length}`);
  }
  if (message.targets.length > limits.maxTargetsPerRegistration) {
    throw new ProxyError('RP_ERR_LIMIT_EXCEEDED', `at most ${limits.maxTargetsPerRegistration} targets per registration, got ${message.targets.length}`);
  }
  const rules = new Map<string, RouteRule>();
  for (const spec of message.rules) {
    const rule = parseRuleSpec(spec);
    rules.set(ruleKey(rule), rule);
  }
  const targets = new Map<string, TargetAddress>();
  for (const spec of message.targets) {
    const target: TargetAddress = Object.freeze({ protocol: spec.protocol ?? 'http', host: spec.host, port: spec.port });
    targets.set(`${target.protocol}://${target.host}:${target.port}`, target);
  }
  const scope = compileScope(identity.scope);
  if (scope.rules.length === 0) {
    throw new ProxyError('RP_ERR_OUT_OF_SCOPE', `key "${identity.id}" has no rules in its scope (scope.rules); a sysadmin must grant some`);
  }
  for (const rule of rules.values()) {
    if (!ruleInScope(scope, rule)) {
      const shown = rule.host === undefined ? rule.path : `${rule.host}${rule.path}`;
      throw new ProxyError('RP_ERR_OUT_OF_SCOPE', `rule "${shown}" is outside the scope of key "${identity.id}"`);
    }
  }
  for (const target of targets.values()) {
    if (!targetInScope(scope, target, remoteAddress)) {
      throw new ProxyError('RP_ERR_OUT_OF_SCOPE', `target host "${target.host}" is outside the scope of key "${identity.id}"`);
    }
  }
  return Object.freeze({
    agentId: identity.id,
    fingerprint: identity.fingerprint,
    remoteAddress,
    targets: Object.freeze([...targets.values()]),
    rules: Object.freeze([...rules.values()]),
    weight: message.weight ?? DEFAULT_BACKEND_WEIGHT,
    meta: Object.freeze({ ...(message.meta ?? {}) }),
    affinity: message.affinity,
    affinityHeader: message.affinityHeader,
    bodyTimeoutMs: message.bodyTimeoutMs,
  });
}

/**
 * Runs the gatekeepers in order, each bounded by `timeoutMs`.
 *
 * @throws {ProxyError} `RP_ERR_REJECTED` with the first rejection's message (or a timeout notice).
 */
export async function runGatekeepers(
  gatekeepers: readonly Gatekeeper[],
  identity: VerifiedIdentity,
  registration: Registration,
  timeoutMs: number,
): Promise<void> {
  for (const gatekeeper of gatekeepers) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ProxyError('RP_ERR_REJECTED', `a gatekeeper did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([Promise.resolve().then(() => gatekeeper(identity, registration)), timeout]);
    } catch (error) {
      if (error instanceof ProxyError && error.code === 'RP_ERR_REJECTED') throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new ProxyError('RP_ERR_REJECTED', `rejected by gatekeeper: ${reason.slice(0, 200)}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}
