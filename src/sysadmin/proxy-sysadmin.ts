/**
 * `ProxySysAdmin`: the operator's client. It dials the control plane with an admin key (after verifying
 * the proxy by pin, CA or, explicitly, not at all) and sends the admin requests (`keys.add`,
 * `keys.import`, `keys.remove`, `keys.list`, `backends.list`, `backends.drain`, `fleet.list`). Unlike the original, whose sysadmin
 * messages were fire-and-forget, every call waits for the proxy's answer and resolves with it, or
 * rejects with a {@link ControlError} carrying the proxy's code.
 *
 * There is no reconnect loop: an operator's tool should fail fast with a clear reason. A dropped
 * connection rejects the pending requests (`RP_ERR_DISCONNECTED`); the next call dials once more, so a
 * long-lived client survives a proxy restart without a timer running in the background.
 */
import { EventEmitter } from 'node:events';
import type { ControlConnection } from '../shared/control-client/control-connection.js';
import { ControlDialer } from '../shared/control-client/control-dialer.js';
import { EVENT_NAME_PATTERN } from '../shared/control-client/server-message.js';
import { RequestPacer } from '../shared/control-client/request-pacer.js';
import { ControlError } from '../shared/errors.js';
import { assertValidAgentId } from '../shared/identity/agent-id.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { ADMIN_MESSAGE_TYPES, CloseCode, type KeyImportEntry, type KeyRole, type KeyScope } from '../shared/protocol.js';
import {
  parseBackendListResult,
  parseDrainResult,
  parseFleetListResult,
  parseKeyAddResult,
  parseKeyListResult,
  parseRemoveKeyResult,
  type BackendInfo,
  type DrainResult,
  type FleetInfo,
  type RemoveKeyResult,
  type TrustedKeyInfo,
} from './admin-results.js';
import { asControlError } from './control-error.js';
import { importBatches, parseKeyImportAnswer, prepareImportEntry, type KeyImportInput, type KeyImportResult } from './key-import.js';
import { loadPublicKey, type PublicKeySource } from './public-key-source.js';
import { firstUnregistrableRule } from './scope-rules.js';
import { resolveSysAdminOptions, type ProxySysAdminOptions, type ResolvedSysAdminOptions } from './sysadmin-options.js';

export type { ProxySysAdminOptions } from './sysadmin-options.js';
export type { KeyImportInput, KeyImportResult } from './key-import.js';

/** Lifecycle state of a {@link ProxySysAdmin}. */
export type SysAdminState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Options of {@link ProxySysAdmin.addPublicKey}. */
export interface AddPublicKeyOptions {
  /** Role of the key. Default `agent`. */
  role?: KeyRole;
  /** Replace an existing key with this id (its live sessions are closed). Default false. */
  replace?: boolean;
}

/** Events of {@link ProxySysAdmin}. */
export interface ProxySysAdminEvents {
  /** The control connection opened (at start, and on a later call's redial). */
  connected: [];
  /** The control connection closed while running; pending requests were rejected. */
  disconnected: [info: { code: number; reason: string }];
  /** A custom event from the proxy. */
  event: [name: string, data: unknown];
}

function checkScope(scope: unknown): KeyScope | undefined {
  if (scope === undefined) return undefined;
  if (typeof scope !== 'object' || scope === null || Array.isArray(scope)) throw new ControlError('RP_ERR_INVALID_OPTION', 'scope: expected { rules?, hosts? }');
  const { rules, hosts } = scope as { rules?: unknown; hosts?: unknown };
  const out: KeyScope = {};
  for (const [name, value] of [['rules', rules], ['hosts', hosts]] as const) {
    if (value === undefined) continue;
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item.length === 0)) {
      throw new ControlError('RP_ERR_INVALID_OPTION', `scope.${name}: expected an array of non-empty strings`);
    }
    out[name] = [...(value as string[])];
  }
  const unregistrable = firstUnregistrableRule(out.rules ?? []);
  if (unregistrable !== undefined) throw new ControlError('RP_ERR_INVALID_OPTION', `scope.rules: ${unregistrable.reason}`);
  return out;
}

/** The sysadmin client of the control plane. */
export class ProxySysAdmin extends EventEmitter<ProxySysAdminEvents> {
  readonly #options: ResolvedSysAdminOptions;
  readonly #logger: Logger;
  #state: SysAdminState = 'idle';
  readonly #dialer: ControlDialer;
  readonly #pacer: RequestPacer;
  #connection: ControlConnection | undefined;
  #connecting: Promise<ControlConnection> | undefined;
  #startPromise: Promise<void> | undefined;
  #stopPromise: Promise<void> | undefined;

  /** @throws {InvalidOptionError} | {InvalidIdError} for invalid options (see {@link ProxySysAdminOptions}). */
  constructor(options: ProxySysAdminOptions) {
    super();
    this.#options = resolveSysAdminOptions(options);
    this.#logger = (options.logger ?? silentLogger()).child({ component: 'sysadmin', adminId: this.#options.adminId });
    this.#dialer = new ControlDialer(this.#options, this.#options.adminId, this.#logger);
    this.#pacer = new RequestPacer(this.#options.requestsPerSecond, this.#options.requestsPerSecond);
  }

  /** Current lifecycle state. */
  get state(): SysAdminState {
    return this.#state;
  }

  /** True while the control connection is open. */
  get connected(): boolean {
    return this.#connection?.isOpen === true;
  }

  /**
   * Loads the key, verifies the proxy and opens the control connection. A second call returns the
   * same promise; after a failure `start()` may be called again.
   *
   * @throws {ControlError} `RP_ERR_UNAUTHORIZED` (unknown key or bad token), `RP_ERR_FORBIDDEN` (role
   * not allowed to connect), `RP_ERR_TLS` (pin or certificate refused), `RP_ERR_DISCONNECTED`
   * (unreachable), `RP_ERR_TIMEOUT`, `RP_ERR_INVALID_KEY` (key file), `RP_ERR_NOT_RUNNING` after `stop()`.
   */
  start(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      return Promise.reject(new ControlError('RP_ERR_NOT_RUNNING', 'this ProxySysAdmin was stopped; create a new one'));
    }
    if (this.#startPromise !== undefined) return this.#startPromise;
    this.#state = 'starting';
    const run = this.#start().catch((error: unknown) => {
      if (this.#state === 'starting') this.#state = 'idle';
      throw asControlError(error);
    });
    this.#startPromise = run;
    run.catch(() => {
      if (this.#startPromise === run) this.#startPromise = undefined;
    });
    return run;
  }

  /**
   * Closes the control connection; pending requests reject with `RP_ERR_DISCONNECTED`. Never rejects.
   * A second call returns the same promise.
   */
  stop(): Promise<void> {
    this.#stopPromise ??= this.#stop();
    return this.#stopPromise;
  }

  /**
   * Trusts a public key on the proxy. `publicKey` is a JWK object, or the path of a `.pub.json` (JWK)
   * or SPKI PEM file. `scope.rules` lists the path prefixes the key may register: without it an agent
   * key may register nothing. `scope.hosts` lists the hosts/CIDRs its targets may use (default: the
   * agent's own address). Resolves with the key as the proxy stored it.
   *
   * @throws {ControlError} `RP_ERR_INVALID_ID`, `RP_ERR_INVALID_KEY` (checked before sending, and by the
   * proxy), `RP_ERR_ALREADY_EXISTS` (without `replace`), `RP_ERR_FORBIDDEN`, `RP_ERR_TIMEOUT`,
   * `RP_ERR_DISCONNECTED`, `RP_ERR_NOT_RUNNING`.
   */
  async addPublicKey(id: string, publicKey: PublicKeySource, scope?: KeyScope, options: AddPublicKeyOptions = {}): Promise<TrustedKeyInfo> {
    const frame = await this.#guarded(async () => {
      const keyId = assertValidAgentId(id);
      const jwk = await loadPublicKey(publicKey);
      const checked = checkScope(scope);
      const role = options.role;
      if (role !== undefined && role !== 'agent' && role !== 'admin') throw new ControlError('RP_ERR_INVALID_OPTION', 'role: expected "agent" or "admin"');
      if (options.replace !== undefined && typeof options.replace !== 'boolean') throw new ControlError('RP_ERR_INVALID_OPTION', 'replace: expected a boolean');
      return {
        type: 'keys.add',
        keyId,
        publicKey: { ...jwk },
        ...(role === undefined ? {} : { role }),
        ...(checked === undefined ? {} : { scope: checked }),
        ...(options.replace === true ? { replace: true } : {}),
      };
    });
    return parseKeyAddResult(await this.#request(frame));
  }

  /**
   * Trusts many keys at once (bulk provisioning). Each key is checked locally first (a bad one is
   * refused without being sent); the others go to the proxy in `keys.import` frames of at most 100
   * keys, one batch after the other, paced within the session's rate limit. The proxy applies and
   * audits each key as `keys.add` would. Resolves with one result per input, in order: `added` (with
   * the fingerprint) or `refused` with a code (`RP_ERR_ALREADY_EXISTS`, `RP_ERR_INVALID_KEY`,
   * `RP_ERR_INVALID_ID`, ...). A refused key never rejects the call.
   *
   * @throws {ControlError} when a batch cannot be sent or answered (`RP_ERR_DISCONNECTED`,
   * `RP_ERR_TIMEOUT`, `RP_ERR_NOT_RUNNING`, `RP_ERR_FORBIDDEN` for a proxy that refuses `keys.import`);
   * keys of earlier batches stay added.
   */
  async addPublicKeys(keys: readonly KeyImportInput[]): Promise<KeyImportResult[]> {
    if (!Array.isArray(keys)) throw new ControlError('RP_ERR_INVALID_OPTION', 'keys: expected an array of { id, publicKey, role?, rules?, hosts? }');
    const results: Array<KeyImportResult | undefined> = new Array<KeyImportResult | undefined>(keys.length).fill(undefined);
    const toSend: Array<{ index: number; entry: KeyImportEntry }> = [];
    for (const [index, input] of keys.entries()) {
      try {
        toSend.push({ index, entry: await prepareImportEntry(input) });
      } catch (error) {
        const failure = asControlError(error);
        const id = typeof input === 'object' && input !== null && typeof input.id === 'string' ? input.id : `#${index}`;
        results[index] = Object.freeze({ id, status: 'refused', code: failure.code, message: failure.message });
      }
    }
    const positions = new Map(toSend.map(({ index, entry }) => [entry, index]));
    for (const batch of importBatches(toSend.map(({ entry }) => entry))) {
      const answer = await this.#request({ type: 'keys.import', keys: batch });
      const outcomes = parseKeyImportAnswer(answer, batch);
      outcomes.forEach((outcome, position) => {
        results[positions.get(batch[position]!) as number] = outcome;
      });
    }
    return results as KeyImportResult[];
  }

  /**
   * Removes a key; the proxy closes its live sessions (4003) at once.
   *
   * @throws {ControlError} `RP_ERR_UNKNOWN_ID`, `RP_ERR_INVALID_ID`, `RP_ERR_FORBIDDEN` (the key of this
   * very session), `RP_ERR_TIMEOUT`, `RP_ERR_DISCONNECTED`, `RP_ERR_NOT_RUNNING`.
   */
  async removePublicKey(id: string): Promise<RemoveKeyResult> {
    const keyId = await this.#guarded(() => assertValidAgentId(id));
    return parseRemoveKeyResult(await this.#request({ type: 'keys.remove', keyId }));
  }

  /** Lists the trusted keys (public material only), sorted by id. @throws {ControlError} */
  async listKeys(): Promise<readonly TrustedKeyInfo[]> {
    return parseKeyListResult(await this.#request({ type: 'keys.list' }));
  }

  /** Lists the registered backends with their targets, rules and state. @throws {ControlError} */
  async listBackends(): Promise<readonly BackendInfo[]> {
    return parseBackendListResult(await this.#request({ type: 'backends.list' }));
  }

  /** Lists the proxies of the fleet (the answering proxy alone when it runs without Redis). @throws {ControlError} */
  async listFleet(): Promise<FleetInfo> {
    return parseFleetListResult(await this.#request({ type: 'fleet.list' }));
  }

  /**
   * Drains every backend of an agent: no new requests reach it, in-flight ones finish, the backends stay
   * registered (listed as `draining`) and the agent is told by an event. Idempotent. Resolves with the
   * drained registration ids. {@link ProxySysAdmin.undrainBackend} undoes it.
   *
   * @throws {ControlError} `RP_ERR_UNKNOWN_ID` (no registered backend), `RP_ERR_INVALID_ID`, ...
   */
  async drainBackend(agentId: string): Promise<DrainResult> {
    const id = await this.#guarded(() => assertValidAgentId(agentId));
    return parseDrainResult(await this.#request({ type: 'backends.drain', agentId: id }));
  }

  /**
   * Undoes {@link ProxySysAdmin.drainBackend}: the agent's backends take new requests again and the agent
   * is told by an event. Idempotent. Resolves with the agent's registration ids.
   *
   * @throws {ControlError} `RP_ERR_UNKNOWN_ID` (no registered backend), `RP_ERR_INVALID_ID`, ...
   */
  async undrainBackend(agentId: string): Promise<DrainResult> {
    const id = await this.#guarded(() => assertValidAgentId(agentId));
    return parseDrainResult(await this.#request({ type: 'backends.undrain', agentId: id }));
  }

  /**
   * The original API. When `type.action` is an admin request (`keys.add`, `keys.remove`, `keys.list`,
   * `backends.list`, `backends.drain`, `backends.undrain`), sends it with `payload`'s fields and resolves with the proxy's
   * unvalidated `result`. Otherwise sends the custom event `{ name: type, data: { action, payload } }`
   * (as `ProxyWebServer.send` does) and resolves once the proxy acknowledged it.
   *
   * @throws {ControlError} with the proxy's code; `RP_ERR_INVALID_OPTION` for a bad event name or payload.
   */
  async send(type: string, action: string, payload?: unknown): Promise<unknown> {
    const frame = await this.#guarded(() => {
      const adminType = `${type}.${action}`;
      if (ADMIN_MESSAGE_TYPES.has(adminType)) {
        if (payload !== undefined && (typeof payload !== 'object' || payload === null || Array.isArray(payload))) {
          throw new ControlError('RP_ERR_INVALID_OPTION', `payload: expected an object with the fields of "${adminType}"`);
        }
        return { ...(payload as Record<string, unknown> | undefined), type: adminType };
      }
      if (typeof type !== 'string' || !EVENT_NAME_PATTERN.test(type)) {
        throw new ControlError('RP_ERR_INVALID_OPTION', `type: expected an admin request or an event name matching ${EVENT_NAME_PATTERN.source}`);
      }
      return { type: 'event', name: type, data: { action, payload } };
    });
    return this.#request(frame);
  }

  /** Runs local checks, turning their failures into {@link ControlError}s. */
  async #guarded<T>(task: () => T | Promise<T>): Promise<T> {
    try {
      return await task();
    } catch (error) {
      throw asControlError(error);
    }
  }

  async #request(frame: { type: string; [field: string]: unknown }): Promise<unknown> {
    try {
      if (this.#state === 'starting') await this.#startPromise;
      if (this.#state !== 'running') {
        throw new ControlError('RP_ERR_NOT_RUNNING', this.#state === 'idle' ? 'call start() first' : `the sysadmin client is ${this.#state}`);
      }
      // Paced below the proxy's admin budget: a fast loop of calls waits here instead of being cut (4008).
      await this.#pacer.take();
      const connection = this.#connection?.isOpen === true ? this.#connection : await this.#connect();
      return await connection.request(frame, this.#options.requestTimeoutMs);
    } catch (error) {
      throw asControlError(error);
    }
  }

  async #start(): Promise<void> {
    await this.#dialer.prepare();
    await this.#connect();
    if (this.#state === 'starting') this.#state = 'running';
  }

  /** Dials once; concurrent callers share the dial. */
  #connect(): Promise<ControlConnection> {
    this.#connecting ??= this.#dial().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #dial(): Promise<ControlConnection> {
    const connection = await this.#dialer.dial();
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      await connection.close(CloseCode.NORMAL, 'sysadmin stopped');
      throw new ControlError('RP_ERR_NOT_RUNNING', 'the sysadmin client was stopped while connecting');
    }
    this.#connection = connection;
    connection.on('close', (code, reason) => {
      if (this.#connection === connection) this.#connection = undefined;
      if (this.#state === 'stopping' || this.#state === 'stopped') return;
      this.#logger.warn({ code, reason }, 'control connection closed');
      this.#emitSafely('disconnected', { code, reason });
    });
    connection.on('frame', (message) => {
      if (message.type === 'event') this.#emitSafely('event', message.name, message.data);
      else if (message.type === 'error') this.#logger.warn({ code: message.code, reason: message.message }, 'the proxy reported an error');
    });
    this.#logger.info({ proxyUrl: this.#options.proxyUrl.origin }, 'connected to the control plane');
    this.#emitSafely('connected');
    return connection;
  }

  async #stop(): Promise<void> {
    const previous = this.#state;
    this.#state = 'stopping';
    if (previous !== 'idle') {
      await this.#startPromise?.catch(() => undefined);
      await this.#connecting?.catch(() => undefined);
      await this.#connection?.close(CloseCode.NORMAL, 'sysadmin stopped');
      this.#connection = undefined;
    }
    this.#state = 'stopped';
  }

  #emitSafely<E extends keyof ProxySysAdminEvents>(event: E, ...args: ProxySysAdminEvents[E]): void {
    try {
      (this.emit as (name: E, ...rest: ProxySysAdminEvents[E]) => boolean)(event, ...args);
    } catch (error) {
      this.#logger.error({ err: error, event }, 'a ProxySysAdmin listener threw');
    }
  }
}
