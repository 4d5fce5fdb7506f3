/**
 * `ProxyWebServer`: the agent a web server embeds to join one proxy or several.
 *
 * `start()` makes the server listen, then opens one {@link ProxyLink} per proxy: each dials with a fresh
 * token, registers, and keeps its registration alive on its own (own backoff, own liveness, own
 * registration), so a proxy that dies or restarts affects only its own session. `start()` resolves once
 * `minAcks` proxies (default: all) acknowledged, so the routes are live; it rejects at once when a proxy
 * refuses the key or the scope, with that proxy's code. Transient failures (429, 503, an unreachable
 * proxy) are retried with jittered backoff and reported as `retrying`, at the first start as on a
 * reconnect, bounded only by `startTimeoutMs` when it is set. When a connection drops the agent keeps
 * serving and redials; the original instead shut its own web server down and never came back.
 *
 * With a health check (`healthCheck`), the agent checks its target and tells every proxy when it turns
 * unhealthy or healthy again (`health` event); an admin's drain or undrain arrives from one proxy and is
 * reported as `admin_drain` naming it.
 *
 * `stop()` drains on every proxy (each stops routing new requests and answers `drained` once in-flight
 * ones finished), closes the control connections, then closes the server. `addProxy()` and
 * `removeProxy()` change the set of proxies at run time (discovery).
 */
import { EventEmitter } from 'node:events';
import { ControlError, InvalidOptionError, NotRunningError, TimeoutError, type ErrorCode, type ProxyError } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import type { TargetSpec } from '../shared/protocol.js';
import { resolveAgentOptions, type ProxyWebServerOptions, type ResolvedAgentOptions } from './agent-options.js';
import { EVENT_NAME_PATTERN } from '../shared/control-client/server-message.js';
import { asProxyError } from './failure-kind.js';
import { resolveProxyEndpoint, type EndpointDefaults, type ProxyEndpoint, type ResolvedProxyEndpoint } from './proxy-endpoints.js';
import { ProxyLink, type ProxyLinkListener } from './proxy-link.js';
import { closeServer, listenServer } from './server-lifecycle.js';
import { AgentDiscovery, type AgentDiscoveryStats } from '../shared/discovery/agent-discovery.js';
import type { DiscoveredProxy } from '../shared/discovery/peer-tracker.js';
import { advertisedTarget } from './advertised-target.js';
import { adminDrainInfo, type AdminDrainInfo } from './admin-drain-event.js';
import { TargetHealthCheck, type HealthTarget } from './target-health-check.js';

export type { AdminDrainInfo } from './admin-drain-event.js';

export type { ProxyWebServerOptions } from './agent-options.js';
export type { ProxyEndpoint } from './proxy-endpoints.js';

/** Lifecycle state of a {@link ProxyWebServer}. */
export type AgentState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Events of {@link ProxyWebServer}. Every payload names the proxy (`proxyUrl`, as it was given). */
export interface ProxyWebServerEvents {
  /** A proxy acknowledged a registration (at start and after every reconnect). */
  registered: [info: { target: TargetSpec; result: unknown; proxyUrl: string }];
  /** A proxy's control connection dropped while running (the server keeps serving). */
  disconnected: [info: { code: number; reason: string; proxyUrl: string }];
  /** A reconnect to a proxy is scheduled after its registration was lost. `attempt` counts from 1. */
  reconnecting: [info: { attempt: number; delayMs: number; proxyUrl: string }];
  /**
   * An attempt to register with a proxy failed and another is scheduled in `delayMs` (first start or
   * reconnect): `code` and `reason` say why (429 `RP_ERR_LIMIT_EXCEEDED`, 503 `RP_ERR_SHUTTING_DOWN`,
   * `RP_ERR_DISCONNECTED`, `RP_ERR_TIMEOUT`, or a refusal retried at the maximum delay while running).
   */
  retrying: [info: { attempt: number; delayMs: number; code: ErrorCode; reason: string; proxyUrl: string }];
  /** A custom event from a proxy. */
  event: [name: string, data: unknown, proxyUrl: string];
  /**
   * An admin of the proxy `proxyUrl` drained (`drained: true`) or undrained this agent
   * (`inteli-sysadmin backends drain|undrain`); the other proxies are not affected.
   */
  admin_drain: [info: AdminDrainInfo & { proxyUrl: string }];
  /** The health check of the target changed its verdict; every proxy is told (unhealthy: no new requests). */
  health: [info: { healthy: boolean; reason: string }];
  /** A refusal or failure while running (never thrown; without a listener it is only logged). */
  error: [error: ProxyError, info: { proxyUrl: string }];
  /** LAN discovery added a proxy (its authenticated beacon or probe answer came; `discovery` only). */
  proxy_discovered: [info: { proxyId: string; proxyUrl: string }];
  /** LAN discovery removed a proxy: its beacons stopped and its session is gone. */
  proxy_lost: [info: { proxyId: string; proxyUrl: string }];
}

/** One proxy as {@link ProxyWebServer.proxies} reports it. */
export interface ProxyLinkStatus {
  /** The URL as it was given. */
  readonly proxyUrl: string;
  /** True while this proxy holds a live, acknowledged registration. */
  readonly registered: boolean;
  /** Code of the last failure since the last registration, if any. */
  readonly lastErrorCode: ErrorCode | undefined;
}

/** The agent: registers a web server with one or several proxies and keeps it registered. */
export class ProxyWebServer extends EventEmitter<ProxyWebServerEvents> {
  readonly #options: ResolvedAgentOptions;
  readonly #endpointDefaults: EndpointDefaults;
  readonly #logger: Logger;
  readonly #links = new Map<string, ProxyLink>();
  readonly #linkListener: ProxyLinkListener;
  /** LAN discovery (undefined without `discovery`); rebuilt after a failed start. */
  #discovery: AgentDiscovery | undefined;
  /** Discovered proxies by proxy id: the link they map to, and whether their beacons stopped. */
  readonly #discovered = new Map<string, { key: string; url: string; beaconGone: boolean }>();
  #state: AgentState = 'idle';
  #listenedByUs = false;
  #startPromise: Promise<void> | undefined;
  /** Settles once `start()` has opened every link (or failed before); `stop()` waits for it. */
  #setUp: Promise<void> | undefined;
  #stopPromise: Promise<void> | undefined;
  readonly #health: TargetHealthCheck | undefined;

  /** @throws {InvalidOptionError} | {InvalidIdError} for invalid options (see {@link ProxyWebServerOptions}). */
  constructor(options: ProxyWebServerOptions) {
    super();
    this.#options = resolveAgentOptions(options);
    const { key, pin, ca, insecure, audience, handshakeTimeoutMs, idleTimeoutMs, tokenTtlSeconds } = options;
    this.#endpointDefaults = Object.freeze({ key, pin, ca, insecure, audience, handshakeTimeoutMs, idleTimeoutMs, tokenTtlSeconds });
    this.#logger = (options.logger ?? silentLogger()).child({ component: 'agent', agentId: this.#options.agentId });
    this.#linkListener = this.#createLinkListener();
    if (this.#options.healthCheck !== undefined) {
      this.#health = new TargetHealthCheck(this.#options.healthCheck, () => this.#healthTarget());
      this.#health.on('change', (healthy, reason) => this.#onHealthChange(healthy, reason));
    }
    for (const endpoint of this.#options.proxies) this.#links.set(endpoint.key, this.#newLink(endpoint));
    this.#discovery = this.#buildDiscovery();
  }

  /** Proxies found by LAN discovery and currently up (empty without `discovery`). */
  get discoveredProxies(): readonly DiscoveredProxy[] {
    return this.#discovery?.proxies() ?? [];
  }

  /** Counters of LAN discovery (undefined without `discovery`). */
  get discoveryStats(): AgentDiscoveryStats | undefined {
    return this.#discovery?.stats();
  }

  /** Current lifecycle state. */
  get state(): AgentState {
    return this.#state;
  }

  /** True while at least `minAcks` proxies (default: all) hold a live, acknowledged registration. */
  get registered(): boolean {
    const links = [...this.#links.values()];
    // With discovery alone (minAcks 0), at least one discovered proxy must hold a registration.
    const needed = Math.max(1, Math.min(this.#options.minAcks, links.length));
    return links.length > 0 && links.filter((link) => link.registered).length >= needed;
  }

  /** Every proxy of this agent, in the order they were added, with its registration state. */
  get proxies(): readonly ProxyLinkStatus[] {
    return [...this.#links.values()].map((link) => ({ proxyUrl: link.proxyUrl, registered: link.registered, lastErrorCode: link.lastError?.code }));
  }

  /**
   * Listens the server (if needed), connects and registers with every proxy; resolves once `minAcks`
   * of them (default: all) acknowledged. Transient failures are retried (see `retrying`), up to
   * `startTimeoutMs` when it is set. A second call returns the same promise. After a failure the server
   * is closed again if `start()` had opened it, and `start()` may be called again.
   *
   * @throws {ControlError} with the refusing proxy's code (`RP_ERR_OUT_OF_SCOPE`, `RP_ERR_FORBIDDEN`,
   * `RP_ERR_REJECTED`, ...), `RP_ERR_UNAUTHORIZED` for a 401 upgrade answer, or the last failure's code
   * when `startTimeoutMs` elapsed; {@link TimeoutError}; {@link TlsError}; {@link ListenError};
   * {@link InvalidKeyError}; {@link NotRunningError} after `stop()`.
   */
  start(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      return Promise.reject(new NotRunningError('this ProxyWebServer was stopped; create a new one'));
    }
    if (this.#startPromise !== undefined) return this.#startPromise;
    this.#state = 'starting';
    let markSetUp!: () => void;
    this.#setUp = new Promise((resolve) => (markSetUp = resolve));
    const run = this.#start(markSetUp).catch(async (error: unknown) => {
      markSetUp();
      await this.#rollbackStart();
      throw error;
    });
    this.#startPromise = run;
    run.catch(() => {
      if (this.#startPromise === run) this.#startPromise = undefined;
    });
    return run;
  }

  /**
   * Drains on every proxy, closes the control connections, then closes the server (when `start()`
   * opened it, or `closeServer` is true). Never rejects. A second call returns the same promise.
   */
  stop(): Promise<void> {
    this.#stopPromise ??= this.#stop();
    return this.#stopPromise;
  }

  /**
   * Adds a proxy at run time (LAN discovery uses this): a string is verified with the agent's
   * top-level `pin`/`ca`/`insecure`. Before `start()` the proxy joins the ones `start()` waits for;
   * afterwards its session starts at once and refusals are reported as `error` events. Resolves when
   * this proxy first acknowledged the registration (immediately before `start()`).
   *
   * @throws {InvalidOptionError} for an invalid entry or a proxy already in the list;
   * {@link NotRunningError} when the agent is stopping or stopped, or the proxy is removed first.
   */
  addProxy(entry: string | ProxyEndpoint): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return Promise.reject(new NotRunningError(`cannot add a proxy while ${this.#state}`));
    let endpoint: ResolvedProxyEndpoint;
    try {
      endpoint = resolveProxyEndpoint(entry, this.#endpointDefaults);
    } catch (error) {
      return Promise.reject(asProxyError(error));
    }
    if (this.#links.has(endpoint.key)) return Promise.reject(new InvalidOptionError(`proxyUrl: ${endpoint.key} is already in the list`));
    const link = this.#newLink(endpoint);
    this.#links.set(endpoint.key, link);
    this.#logger.info({ proxyUrl: endpoint.proxyUrl }, 'proxy added');
    if (this.#state === 'idle') return Promise.resolve();
    return link.open(false);
  }

  /**
   * Removes a proxy at run time: its registration is drained and its session closed; the other
   * proxies are not affected. Resolves true once done, false when no proxy has this URL.
   */
  async removeProxy(proxyUrl: string): Promise<boolean> {
    let key: string;
    try {
      key = new URL(proxyUrl).href;
    } catch {
      return false;
    }
    const link = this.#links.get(key);
    if (link === undefined) return false;
    this.#links.delete(key);
    this.#logger.info({ proxyUrl: link.proxyUrl }, 'proxy removed');
    await link.close(true);
    return true;
  }

  /**
   * The original API: sends a custom event `{ type: 'event', name: type, data: { action, payload } }`
   * to every proxy the agent is registered with. Resolves once written; events are not queued while
   * disconnected.
   *
   * @throws {InvalidOptionError} when `type` is not a valid event name.
   * @throws {NotRunningError} before `start()` or after `stop()`; {@link ControlError} `RP_ERR_DISCONNECTED`
   * while no proxy is connected, `RP_ERR_LIMIT_EXCEEDED` above 64 KiB.
   */
  send(type: string, action: string, payload?: unknown): Promise<void> {
    return this.sendEvent(type, { action, payload });
  }

  /** Sends a custom event `{ type: 'event', name, data }` to every registered proxy; see {@link ProxyWebServer.send}. */
  async sendEvent(name: string, data?: unknown): Promise<void> {
    if (typeof name !== 'string' || !EVENT_NAME_PATTERN.test(name)) {
      throw new InvalidOptionError(`event name: expected a string matching ${EVENT_NAME_PATTERN.source}`);
    }
    if (this.#state !== 'running') throw new NotRunningError(`cannot send an event while ${this.#state}`);
    const connections = [...this.#links.values()].flatMap((link) => link.connection ?? []);
    if (connections.length === 0) throw new ControlError('RP_ERR_DISCONNECTED', 'not connected to any proxy (reconnecting)');
    const frame = data === undefined ? { type: 'event', name } : { type: 'event', name, data };
    await Promise.all(connections.map((connection) => connection.send(frame)));
  }

  async #start(markSetUp: () => void): Promise<void> {
    const options = this.#options;
    if (options.server !== undefined && !options.server.listening) {
      await listenServer(options.server, options.port, options.host);
      this.#listenedByUs = true;
    }
    // The first verdict is known before registering, so an unhealthy target is never routed to.
    await this.#health?.start();
    const registered = this.#openLinks();
    markSetUp();
    await this.#discovery?.start();
    await registered;
    // When stop() was called meanwhile, the registrations stay in place so stop() can drain them.
    if (this.#state === 'starting') this.#state = 'running';
  }

  /** Opens every link; resolves at `minAcks` acknowledgements, rejects at the first refusal or the deadline. */
  #openLinks(): Promise<void> {
    const links = [...this.#links.values()];
    let needed = Math.min(this.#options.minAcks, links.length);
    const startTimeoutMs = this.#options.startTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      let acks = 0;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (error?: ProxyError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error !== undefined) {
          reject(error);
          return;
        }
        // The proxies that have not answered yet keep trying in the background; from now on a refusal
        // is reported as an error event instead of failing a start() that already resolved.
        for (const link of links) link.failFast = false;
        resolve();
      };
      if (needed === 0) {
        finish();
        return;
      }
      if (startTimeoutMs !== undefined) timer = setTimeout(() => finish(this.#startTimeoutError(links, needed, startTimeoutMs)), startTimeoutMs);
      for (const link of links) {
        link.open(true).then(
          () => {
            acks += 1;
            if (acks >= needed) finish();
          },
          (error: unknown) => {
            if (this.#links.get(link.endpoint.key) !== link) {
              // Removed with removeProxy() during the start: it no longer counts.
              needed = Math.min(needed, [...this.#links.values()].filter((other) => links.includes(other)).length);
              if (acks >= needed) finish();
              return;
            }
            finish(asProxyError(error));
          },
        );
      }
    });
  }

  #startTimeoutError(links: readonly ProxyLink[], needed: number, startTimeoutMs: number): ProxyError {
    const waiting = links.filter((link) => !link.registered);
    const failed = waiting.find((link) => link.lastError !== undefined);
    const summary = `not registered with ${needed} of ${links.length} ${links.length === 1 ? 'proxy' : 'proxies'} within startTimeoutMs (${startTimeoutMs} ms)`;
    if (failed?.lastError === undefined) return new TimeoutError(summary);
    const last = failed.lastError;
    return new ControlError(last.code, `${summary}; last failure from ${failed.proxyUrl}: ${last.message}`, { cause: last });
  }

  async #rollbackStart(): Promise<void> {
    this.#health?.stop();
    await this.#discovery?.stop();
    this.#discovered.clear();
    if (this.#state === 'starting') this.#discovery = this.#buildDiscovery();
    const links = [...this.#links.values()];
    await Promise.all(links.map((link) => link.close(false)));
    if (this.#state === 'starting') {
      // Fresh links, so that start() may be called again.
      for (const link of links) {
        if (this.#links.get(link.endpoint.key) === link) this.#links.set(link.endpoint.key, this.#newLink(link.endpoint));
      }
    }
    if (this.#listenedByUs && this.#options.server !== undefined) {
      this.#listenedByUs = false;
      await closeServer(this.#options.server, 0);
    }
    if (this.#state === 'starting') this.#state = 'idle';
  }

  async #stop(): Promise<void> {
    this.#health?.stop();
    if (this.#state === 'idle') {
      this.#state = 'stopped';
      return;
    }
    const starting = this.#startPromise;
    this.#state = 'stopping';
    await this.#setUp;
    // Discovery first: no proxy is added while the sessions drain.
    await this.#discovery?.stop();
    await Promise.all([...this.#links.values()].map((link) => link.close(true)));
    await starting?.catch(() => undefined);
    const server = this.#options.server;
    if (server !== undefined && (this.#options.closeServer ?? this.#listenedByUs)) {
      await closeServer(server, this.#options.closeGraceMs);
    }
    this.#state = 'stopped';
  }

  #buildDiscovery(): AgentDiscovery | undefined {
    const options = this.#options.discovery;
    if (options === undefined) return undefined;
    const discovery = new AgentDiscovery(options, this.#logger);
    discovery.on('proxy_up', (proxy: DiscoveredProxy) => this.#onDiscovered(discovery, proxy));
    discovery.on('proxy_changed', (proxy: DiscoveredProxy) => this.#onDiscovered(discovery, proxy));
    discovery.on('proxy_down', (proxy: DiscoveredProxy) => this.#onLost(proxy));
    return discovery;
  }

  /**
   * A proxy's authenticated beacon came: add it, verified by the configured pin/CA or else by the pin
   * its beacon carries, and always by the channel proof. A proxy already in the list (configured, or
   * holding a session) is left alone: a beacon never replaces a healthy session.
   */
  #onDiscovered(discovery: AgentDiscovery, proxy: DiscoveredProxy): void {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    const id = proxy.announcement.proxyId;
    const url = proxy.announcement.controlUrls[0] as string;
    const known = this.#discovered.get(id);
    if (known !== undefined) {
      known.beaconGone = false;
      const link = this.#links.get(known.key);
      const sameUrl = new URL(url).href === known.key;
      if (sameUrl || link?.registered === true) return;
      // Moved (new URL) and the old session is gone: follow it.
      this.#discovered.delete(id);
      void this.removeProxy(known.url);
    }
    const ownVerification = this.#endpointDefaults.pin !== undefined || this.#endpointDefaults.ca !== undefined;
    const channelProof = discovery.channelProofFor(proxy);
    const endpoint: ProxyEndpoint = ownVerification ? { url, channelProof } : { url, pin: proxy.announcement.pin, channelProof };
    const key = new URL(url).href;
    if (this.#links.has(key)) return;
    this.#discovered.set(id, { key, url, beaconGone: false });
    this.#logger.info({ proxyId: id, proxyUrl: url, via: proxy.via }, 'proxy discovered');
    this.#safeEmit('proxy_discovered', { proxyId: id, proxyUrl: url });
    this.addProxy(endpoint).catch((error: unknown) => this.#logger.warn({ proxyId: id, proxyUrl: url, err: (error as Error).message }, 'discovered proxy not added'));
  }

  /** A proxy's beacons stopped: drop it now if its session is gone, else once the session goes. */
  #onLost(proxy: DiscoveredProxy): void {
    const known = this.#discovered.get(proxy.announcement.proxyId);
    if (known === undefined) return;
    known.beaconGone = true;
    this.#dropIfGone(known.key);
  }

  #dropIfGone(key: string): void {
    for (const [id, known] of this.#discovered) {
      if (known.key !== key || !known.beaconGone) continue;
      if (this.#links.get(key)?.registered === true) return;
      this.#discovered.delete(id);
      this.#logger.info({ proxyId: id, proxyUrl: known.url }, 'discovered proxy gone (no beacons, no session): removed');
      void this.removeProxy(known.url).then(() => this.#safeEmit('proxy_lost', { proxyId: id, proxyUrl: known.url }));
      return;
    }
  }

  #newLink(endpoint: ResolvedProxyEndpoint): ProxyLink {
    return new ProxyLink(endpoint, this.#options, this.#linkListener, this.#logger, this.#health);
  }

  /** Where the health check connects: the advertised target, else the server's own address. */
  #healthTarget(): HealthTarget {
    const target = advertisedTarget(this.#options.target, this.#options.server, '127.0.0.1');
    return { host: target.host, port: target.port, protocol: target.protocol ?? 'http' };
  }

  #onHealthChange(healthy: boolean, reason: string): void {
    if (healthy) this.#logger.info({ reason }, 'target healthy again: asking every proxy to route to it');
    else this.#logger.warn({ reason }, 'target unhealthy: asking every proxy to stop routing to it');
    this.#safeEmit('health', { healthy, reason });
    // A link that is not registered now tells its proxy when it (re)registers.
    for (const link of this.#links.values()) link.reportHealth(healthy, reason);
  }

  #onEvent(link: ProxyLink, name: string, data: unknown): void {
    const adminDrain = adminDrainInfo(name, data);
    if (adminDrain === undefined) {
      this.#safeEmit('event', name, data, link.proxyUrl);
      return;
    }
    const message = adminDrain.drained ? 'drained by an admin: no new requests from this proxy until undrained' : 'undrained by an admin: this proxy routes again';
    this.#logger.warn({ proxyUrl: link.proxyUrl, by: adminDrain.by, backendIds: adminDrain.backendIds }, message);
    this.#safeEmit('admin_drain', { ...adminDrain, proxyUrl: link.proxyUrl });
  }

  #createLinkListener(): ProxyLinkListener {
    return {
      registered: (link, info) => this.#safeEmit('registered', { ...info, proxyUrl: link.proxyUrl }),
      disconnected: (link, info) => {
        if (this.#state === 'running') this.#safeEmit('disconnected', { ...info, proxyUrl: link.proxyUrl });
        this.#dropIfGone(link.endpoint.key);
      },
      reconnecting: (link, info) => this.#safeEmit('reconnecting', { ...info, proxyUrl: link.proxyUrl }),
      retrying: (link, { attempt, delayMs, error }) => {
        this.#safeEmit('retrying', { attempt, delayMs, code: error.code, reason: error.message, proxyUrl: link.proxyUrl });
      },
      event: (link, name, data) => this.#onEvent(link, name, data),
      error: (link, error) => {
        this.#logger.warn({ proxyUrl: link.proxyUrl, code: error.code, err: error.message }, 'control-plane error');
        if (this.listenerCount('error') > 0) this.#safeEmit('error', error, { proxyUrl: link.proxyUrl });
      },
    };
  }

  #safeEmit<K extends keyof ProxyWebServerEvents>(event: K, ...args: ProxyWebServerEvents[K]): void {
    try {
      (this.emit as (name: K, ...rest: ProxyWebServerEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.#logger.error({ err: error, event }, 'a ProxyWebServer listener threw');
    }
  }
}
