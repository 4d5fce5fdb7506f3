/**
 * The proxy's answers to admin requests, as the sysadmin client returns them, and the runtime guards
 * they pass through. The proxy is authenticated, but its answers are still network input: a newer or
 * broken proxy must produce a clear `RP_ERR_INVALID_MESSAGE`, not a `TypeError` three calls later.
 * Unknown fields are dropped; every returned object is a fresh, frozen copy.
 */
import { ControlError } from '../shared/errors.js';
import { parsePublicJwk, type Ed25519PublicJwk } from '../shared/identity/jwk.js';
import type { KeyRole, KeyScope } from '../shared/protocol.js';

/** A trusted key as `keys.list` and `keys.add` report it (public material only). */
export interface TrustedKeyInfo {
  readonly id: string;
  readonly role: KeyRole;
  /** Rules and target hosts the key may register. No `rules`: it may register nothing. */
  readonly scope: Readonly<KeyScope>;
  /** RFC 7638 SHA-256 thumbprint of the public key, base64url. */
  readonly fingerprint: string;
  readonly publicKey: Ed25519PublicJwk;
  /** ISO 8601 time the key was added. */
  readonly createdAt: string;
  /** Live control-plane sessions of this key on the proxy that answered. */
  readonly sessions: number;
}

/** A registered backend as `backends.list` reports it. */
export interface BackendInfo {
  /** Registration id (a re-registration gets a new one). */
  readonly id: string;
  /** The agent (key) id. */
  readonly agentId: string;
  /** Thumbprint of the agent's key, when it registered through the control plane. */
  readonly fingerprint: string | undefined;
  readonly targets: readonly { readonly protocol: 'http' | 'https'; readonly host: string; readonly port: number }[];
  readonly rules: readonly { readonly path: string; readonly host: string | undefined }[];
  readonly weight: number;
  /** `ready`, `draining` (no new requests) or `unhealthy` (the agent's health check failed: no new requests). */
  readonly state: 'ready' | 'draining' | 'unhealthy';
  readonly meta: Readonly<Record<string, string>>;
  /** Epoch milliseconds of the registration. */
  readonly registeredAt: number;
}

/** Answer to `keys.remove`. */
export interface RemoveKeyResult {
  readonly keyId: string;
  /** Live sessions of the key that the proxy closed (4003). */
  readonly closedSessions: number;
}

/** One proxy of the fleet as `fleet.list` reports it. */
export interface FleetNodeInfo {
  readonly id: string;
  /** URLs it serves (control plane, data plane, admin). */
  readonly addresses: readonly string[];
  /** SHA-256 pin (base64) of its control-plane certificate's public key. */
  readonly pin: string | undefined;
  /** ISO 8601 time it started. */
  readonly startedAt: string;
  /** True for the proxy that answered. */
  readonly self: boolean;
}

/** Answer to `fleet.list`. */
export interface FleetInfo {
  /** True when the proxies share their trust on Redis; false for a proxy on its own. */
  readonly shared: boolean;
  /** The answering proxy's trust store: backend and whether it may be used right now. */
  readonly trust: { readonly kind: string; readonly ok: boolean; readonly reason: string | undefined };
  /** Every live proxy, sorted by id. */
  readonly nodes: readonly FleetNodeInfo[];
}

/** Answer to `backends.drain`. */
export interface DrainResult {
  /** Registration ids now draining. */
  readonly backendIds: readonly string[];
}

class AnswerError extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (!isRecord(value)) throw new AnswerError(`${where}: expected an object`);
  return value;
}

function text(value: unknown, where: string, max = 1024): string {
  if (typeof value !== 'string' || value.length > max) throw new AnswerError(`${where}: expected a string`);
  return value;
}

function count(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new AnswerError(`${where}: expected a non-negative integer`);
  return value;
}

function array(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new AnswerError(`${where}: expected an array`);
  return value;
}

function strings(value: unknown, where: string): string[] {
  return array(value, where).map((item, index) => text(item, `${where}[${index}]`));
}

function scope(value: unknown, where: string): Readonly<KeyScope> {
  const input = record(value, where);
  const out: KeyScope = {};
  if (input.rules !== undefined) out.rules = strings(input.rules, `${where}.rules`);
  if (input.hosts !== undefined) out.hosts = strings(input.hosts, `${where}.hosts`);
  if (input.anyHost === true) out.anyHost = true;
  return Object.freeze(out);
}

function trustedKey(value: unknown, where: string): TrustedKeyInfo {
  const input = record(value, where);
  const role = input.role;
  if (role !== 'agent' && role !== 'admin') throw new AnswerError(`${where}.role: expected "agent" or "admin"`);
  let publicKey: Ed25519PublicJwk;
  try {
    publicKey = parsePublicJwk(input.publicKey);
  } catch (error) {
    throw new AnswerError(`${where}.publicKey: ${(error as Error).message}`);
  }
  return Object.freeze({
    id: text(input.id, `${where}.id`, 64),
    role,
    scope: scope(input.scope, `${where}.scope`),
    fingerprint: text(input.fingerprint, `${where}.fingerprint`, 128),
    publicKey,
    createdAt: text(input.createdAt, `${where}.createdAt`, 64),
    sessions: count(input.sessions, `${where}.sessions`),
  });
}

function backend(value: unknown, where: string): BackendInfo {
  const input = record(value, where);
  const targets = array(input.targets, `${where}.targets`).map((item, index) => {
    const target = record(item, `${where}.targets[${index}]`);
    const protocol = target.protocol;
    if (protocol !== 'http' && protocol !== 'https') throw new AnswerError(`${where}.targets[${index}].protocol: expected "http" or "https"`);
    return Object.freeze({ protocol, host: text(target.host, `${where}.targets[${index}].host`, 253), port: count(target.port, `${where}.targets[${index}].port`) });
  });
  const rules = array(input.rules, `${where}.rules`).map((item, index) => {
    const rule = record(item, `${where}.rules[${index}]`);
    return Object.freeze({ path: text(rule.path, `${where}.rules[${index}].path`), host: rule.host === undefined ? undefined : text(rule.host, `${where}.rules[${index}].host`, 253) });
  });
  const state = input.state;
  if (state !== 'ready' && state !== 'draining' && state !== 'unhealthy') throw new AnswerError(`${where}.state: expected "ready", "draining" or "unhealthy"`);
  const meta = record(input.meta ?? {}, `${where}.meta`);
  return Object.freeze({
    id: text(input.id, `${where}.id`, 128),
    agentId: text(input.agentId, `${where}.agentId`, 64),
    fingerprint: input.fingerprint === undefined ? undefined : text(input.fingerprint, `${where}.fingerprint`, 128),
    targets: Object.freeze(targets),
    rules: Object.freeze(rules),
    weight: count(input.weight, `${where}.weight`),
    state,
    meta: Object.freeze(Object.fromEntries(Object.entries(meta).map(([name, label]) => [name, text(label, `${where}.meta.${name}`, 256)]))),
    registeredAt: count(input.registeredAt, `${where}.registeredAt`),
  });
}

/** Runs a guard and turns its failure into a {@link ControlError} naming the request. */
function guard<T>(request: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof AnswerError) {
      throw new ControlError('RP_ERR_INVALID_MESSAGE', `the proxy's answer to ${request} is not valid: ${error.message}`);
    }
    throw error;
  }
}

/** Validates the answer to `keys.add`. @throws {ControlError} `RP_ERR_INVALID_MESSAGE`. */
export function parseKeyAddResult(result: unknown): TrustedKeyInfo {
  return guard('keys.add', () => trustedKey(result, 'result'));
}

/** Validates the answer to `keys.list`. @throws {ControlError} `RP_ERR_INVALID_MESSAGE`. */
export function parseKeyListResult(result: unknown): readonly TrustedKeyInfo[] {
  return guard('keys.list', () => Object.freeze(array(record(result, 'result').keys, 'result.keys').map((item, index) => trustedKey(item, `keys[${index}]`))));
}

/** Validates the answer to `keys.remove`. @throws {ControlError} `RP_ERR_INVALID_MESSAGE`. */
export function parseRemoveKeyResult(result: unknown): RemoveKeyResult {
  return guard('keys.remove', () => {
    const input = record(result, 'result');
    return Object.freeze({ keyId: text(input.keyId, 'result.keyId', 64), closedSessions: count(input.closedSessions, 'result.closedSessions') });
  });
}

/** Validates the answer to `backends.list`. @throws {ControlError} `RP_ERR_INVALID_MESSAGE`. */
export function parseBackendListResult(result: unknown): readonly BackendInfo[] {
  return guard('backends.list', () =>
    Object.freeze(array(record(result, 'result').backends, 'result.backends').map((item, index) => backend(item, `backends[${index}]`))),
  );
}

function fleetNode(value: unknown, where: string): FleetNodeInfo {
  const input = record(value, where);
  if (typeof input.self !== 'boolean') throw new AnswerError(`${where}.self: expected a boolean`);
  return Object.freeze({
    id: text(input.id, `${where}.id`, 64),
    addresses: Object.freeze(strings(input.addresses, `${where}.addresses`).map((address, index) => text(address, `${where}.addresses[${index}]`, 256))),
    pin: input.pin === undefined ? undefined : text(input.pin, `${where}.pin`, 64),
    startedAt: text(input.startedAt, `${where}.startedAt`, 64),
    self: input.self,
  });
}

/** Validates the answer to `fleet.list`. @throws {ControlError} `RP_ERR_INVALID_MESSAGE`. */
export function parseFleetListResult(result: unknown): FleetInfo {
  return guard('fleet.list', () => {
    const input = record(result, 'result');
    const trust = record(input.trust, 'result.trust');
    if (typeof input.shared !== 'boolean') throw new AnswerError('result.shared: expected a boolean');
    if (typeof trust.ok !== 'boolean') throw new AnswerError('result.trust.ok: expected a boolean');
    return Object.freeze({
      shared: input.shared,
      trust: Object.freeze({
        kind: text(trust.kind, 'result.trust.kind', 16),
        ok: trust.ok,
        reason: trust.reason === undefined ? undefined : text(trust.reason, 'result.trust.reason'),
      }),
      nodes: Object.freeze(array(input.nodes, 'result.nodes').map((item, index) => fleetNode(item, `nodes[${index}]`))),
    });
  });
}

/** Validates the answer to `backends.drain`. @throws {ControlError} `RP_ERR_INVALID_MESSAGE`. */
export function parseDrainResult(result: unknown): DrainResult {
  return guard('backends.drain', () => Object.freeze({ backendIds: Object.freeze(strings(record(result, 'result').backendIds, 'result.backendIds')) }));
}
