/**
 * Turns a rule as an agent declares it (`"/api"`, `"example.com/api"`, `{ path, host }`) into the
 * registry's {@link RouteRule}, with the data plane's own parser so that the control plane accepts
 * exactly what the router can match. Only the error code changes: a bad rule in a frame is an invalid
 * message, not an invalid option.
 */
import { ProxyError, isProxyError } from '../../shared/errors.js';
import type { RuleSpec } from '../../shared/protocol.js';
import { parseRule } from '../../shared/routing/route-rule.js';
import type { RouteRule } from '../registry/backend.js';

/**
 * Parses and normalises a rule (path prefix on a segment boundary, optional host, no regular
 * expressions, no dot segments).
 *
 * @throws {ProxyError} `RP_ERR_INVALID_MESSAGE` naming the rule and the problem.
 */
export function parseRuleSpec(spec: RuleSpec): RouteRule {
  try {
    return parseRule(spec);
  } catch (error) {
    const message = isProxyError(error) ? error.message : 'invalid rule';
    throw new ProxyError('RP_ERR_INVALID_MESSAGE', message, { cause: error });
  }
}
