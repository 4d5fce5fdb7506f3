/**
 * `ProxyHost`: the authority half of a proxy, built whole in its constructor over a {@link Forwarding}
 * (a one-process `DataPlane` for `ProxyServer`, a `WorkerPool` for the cluster's primary). After `new`
 * every part exists: the registry, the trust store, the control plane, the admin listener and the
 * metrics; so every option fails at `new` and no getter is undefined before `start()`.
 *
 * `start()` only opens things, in this order:
 * 1. the trust store the host created (load and watch `certstore/trust-store.json`, or, in a fleet, load
 *    the keys from Redis and follow their changes, and connect the shared replay cache), so a corrupt or
 *    unreachable store fails the start before any port is bound;
 * 2. with `acme`, the certificate manager (it reads the allowed names from the loaded trust store, and
 *    loads its stored certificates before the HTTPS listener binds, so a restart serves them from the
 *    first handshake);
 * 3. forwarding (the data-plane listeners, or the workers), so a registration acknowledged by the control
 *    plane is routable at once;
 * 4. the control plane (agents register; a host-bound rule's certificate is ordered as it registers);
 * 5. the admin listener, so `/readyz` answers only once everything listens;
 * 6. in a fleet, the membership announcement (it needs the bound ports and the pin).
 *
 * `stop()` runs the other way: readiness flips at once, forwarding starts its graceful stop (503 +
 * close for new requests) before the control plane closes (which removes every backend), then the
 * registry is cleared, the certificate manager stops, the trust store stops watching (a fleet member
 * leaves the fleet first, so its peers see it go at once) and the admin listener closes last, so
 * `/readyz` answers 503 while the proxy drains. A failed start stops what was started.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { NotRunningError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { FileTrustStore } from '../shared/trust/file-trust-store.js';
import type { TrustStore } from '../shared/trust/trust-store.js';
import type { ResolvedAcmeOptions } from './acme/acme-options.js';
import { CertificateManager } from './acme/certificate-manager.js';
import { RedisCertificateStorage } from './acme/redis-certificate-storage.js';
import type { ResolvedAdminOptions } from './admin/admin-options.js';
import { AdminServer, type AdminHost } from './admin/admin-server.js';
import { ProxyMetrics, type MetricsSource } from './admin/proxy-metrics.js';
import { registerTrustMetrics } from './admin/trust-metrics.js';
import { ControlPlane, type AgentEvent, type BackendRejection } from './control-plane/control-plane.js';
import type { DataPlaneAddresses, DataPlaneSnapshot } from './data-plane/data-plane.js';
import type { FleetNode } from '../shared/fleet/fleet-node.js';
import type { NodeRemovedReason } from '../shared/fleet/fleet-membership.js';
import type { FleetSummary } from './control-plane/fleet-handlers.js';
import type { ListenerAddress } from './control-plane/own-listeners.js';
import type { ResolvedFleetOptions } from './fleet/fleet-options.js';
import { advertisedUrls, ProxyFleet } from './fleet/proxy-fleet.js';
import type { Forwarding } from './forwarding.js';
import type { LiveDataPlaneOptions } from './data-plane/live-options.js';
import type { ControlPlaneLimits } from './control-plane/control-plane-options.js';
import type { LogLevel } from '../shared/env.js';
import type { ProxyControlOptions } from './proxy-options.js';
import type { BackendRegistry } from './registry/backend-registry.js';
import type { Backend, RemovalReason } from './registry/backend.js';
import type { TLSSocket } from 'node:tls';
import { answerChannelProof } from '../shared/discovery/channel-proof-exchange.js';
import type { DiscoveredProxy } from '../shared/discovery/peer-tracker.js';
import { ProxyDiscovery } from '../shared/discovery/proxy-discovery.js';
import { announcedHost, defaultProxyId, type ResolvedProxyDiscoveryConfig } from './proxy-discovery-config.js';

/** Who reports a peer proxy: Redis membership or LAN discovery's beacons. */
type NodeSource = 'redis' | 'beacon';

/** A peer found by LAN discovery as a fleet node (beacons carry no start time: the first sighting stands in). */
function discoveredNode(peer: DiscoveredProxy): FleetNode {
  const { proxyId, controlUrls, pin } = peer.announcement;
  return { id: proxyId, addresses: controlUrls, pin, startedAt: new Date(peer.lastSeenAt).toISOString() };
}

/** Bound addresses of the proxy's listeners, known after `start()`. */
export interface ProxyAddresses extends DataPlaneAddresses {
  /** The control plane, when enabled. */
  readonly control?: AddressInfo | undefined;
  /** The admin listener (health, metrics, status), when enabled. */
  readonly admin?: AddressInfo | undefined;
}

/** Events of a proxy host (`ProxyServer`, `ClusterPrimary`). */
export interface ProxyServerEvents {
  /** All listeners are bound. */
  listening: [addresses: ProxyAddresses];
  /** A backend joined the registry (through the control plane or the registry API). */
  backend_added: [backend: Backend];
  /** A backend left, with the reason (left, drained, timeout, revoked, superseded, error, stopped). */
  backend_removed: [backend: Backend, reason: RemovalReason];
  /** The control plane refused a verified agent's registration (scope, gatekeeper, limits). */
  backend_rejected: [rejection: BackendRejection];
  /** A custom event from an agent. */
  message: [event: AgentEvent];
  /** A part failed after start. Without a listener it is only logged (never thrown). */
  error: [error: Error];
  /**
   * Another proxy joined the fleet: Redis membership, or LAN discovery's authenticated beacons (never
   * emitted without either). Once per proxy, even when both see it.
   */
  node_added: [node: FleetNode];
  /**
   * A proxy left the fleet (`gone`: stopped or expired; `restarted`: it came back with a new start time),
   * once the last of Redis membership and discovery that saw it lost it.
   */
  node_removed: [node: FleetNode, reason: NodeRemovedReason];
}

/** The resolved options a host reads (a subset of both `ProxyServer`'s and the cluster's). */
export interface ProxyHostOptions {
  /** The control plane's options; undefined runs without one. */
  readonly control: Readonly<ProxyControlOptions> | undefined;
  /** A trust store object (the caller starts and stops it); undefined creates the file store in `certstore`. */
  readonly trustStore: TrustStore | undefined;
  /** Directory of the file trust store. */
  readonly certstore: string;
  /** The fleet's Redis options: trust store, replay cache and membership in Redis. Undefined: no fleet. */
  readonly fleet?: ResolvedFleetOptions | undefined;
  /** Refuse a file trust store that others can write, instead of warning (`strictTrustStoreModes`). */
  readonly strictTrustStoreModes?: boolean | undefined;
  /** The admin listener's options; undefined runs without one. */
  readonly admin: ResolvedAdminOptions | undefined;
  /**
   * ACME: certificates for the hosts of host-bound rules in trusted keys' scopes (docs/acme.md); undefined
   * runs without. Forwarding must serve them: `ProxyServer` hands its data plane the manager's hooks.
   */
  readonly acme?: ResolvedAcmeOptions | undefined;
  /** LAN discovery; undefined (or absent) runs without it. */
  readonly discovery?: ResolvedProxyDiscoveryConfig | undefined;
  readonly logger: Logger;
}

/** What a running host can change without a restart (see {@link ProxyHost.reconfigure}). */
export interface LiveProxySettings {
  /** New values of live data-plane options (selector, timeouts, trusted proxies, access log, status). */
  readonly dataPlane?: LiveDataPlaneOptions;
  /** New control-plane limits, for new sessions (`maxFrameBytes` and `handshakeTimeoutMs` need a restart). */
  readonly limits?: ControlPlaneLimits;
  /** New level of the host's logger (the one given in the options) and of cluster workers' loggers. */
  readonly logLevel?: LogLevel;
}

/** A proxy's registry, trust store, control plane, admin listener and metrics over one {@link Forwarding}. */
export class ProxyHost<F extends Forwarding = Forwarding> extends EventEmitter<ProxyServerEvents> implements AdminHost, MetricsSource {
  /** The live backends; the control plane writes here, tests and embedders may too. */
  readonly registry: BackendRegistry;
  /** What forwards the traffic: the data plane, or the cluster's worker pool. */
  readonly forwarding: F;
  /**
   * The trust store: the one given in the options, or the file store in `certstore` (loaded and watched
   * from `start()`). Undefined only when neither a store is given nor a control plane enabled.
   */
  readonly trustStore: TrustStore | undefined;
  /** The control plane (undefined when disabled); it listens from `start()`. */
  readonly controlPlane: ControlPlane | undefined;
  /** The admin listener (undefined when disabled); it listens from `start()`. */
  readonly admin: AdminServer | undefined;
  /** Prometheus metrics on a registry of this proxy's own (served by the admin listener at `/metrics`). */
  readonly metrics: ProxyMetrics;
  /** The fleet's Redis parts (trust store, replay cache, membership), when `trustStore: { redis }` was given. */
  readonly fleet: ProxyFleet | undefined;
  /**
   * ACME certificates, when `acme` is set: kept in `<certstore>/acme`, or in the fleet's Redis (so one
   * proxy obtains a certificate and every proxy serves it) unless `acme.storage` is given.
   */
  readonly certificates: CertificateManager | undefined;
  /**
   * LAN discovery (beacons, probe answers, peers), when `discovery` is configured; it announces the
   * control plane from `start()`, once its port is bound.
   */
  readonly discovery: ProxyDiscovery | undefined;
  readonly #discoveryConfig: ResolvedProxyDiscoveryConfig | undefined;
  /** The component's logger. */
  protected readonly logger: Logger;
  readonly #rootLogger: Logger;
  readonly #ownedTrustStore: TrustStore | undefined;
  readonly #adminOptions: ResolvedAdminOptions | undefined;
  /** Recomputes the allowed certificate names when a key is trusted or removed. */
  readonly #keysChanged = (): void => this.certificates?.keysChanged();
  #ready = false;
  readonly #startedAt = new Date().toISOString();
  #controlOptions: Readonly<ProxyControlOptions> | undefined;
  /** Peer proxies by id, with the sources that currently see them (node_added / node_removed). */
  readonly #nodes = new Map<string, { sources: Set<NodeSource>; node: FleetNode }>();
  #startPromise: Promise<ProxyAddresses> | undefined;
  #stopPromise: Promise<void> | undefined;

  /**
   * Builds every part; nothing is bound or read from disk until `start()`.
   *
   * @param component names the host in its logs (`proxy-server`, `cluster-primary`).
   * @throws {InvalidOptionError} (`RP_ERR_INVALID_OPTION`) naming the bad option.
   * @throws {TlsError} (`RP_ERR_TLS`) when the control plane's certificate or key is unusable.
   */
  constructor(options: ProxyHostOptions, registry: BackendRegistry, forwarding: F, component: string) {
    super();
    this.#rootLogger = options.logger;
    this.logger = options.logger.child({ component });
    this.registry = registry;
    this.forwarding = forwarding;
    registry.on('added', (backend) => this.emit('backend_added', backend));
    registry.on('removed', (backend, reason) => {
      // At info: a backend leaving changes where traffic goes, which an operator wants to see by default.
      this.logger.info({ agentId: backend.agentId, backendId: backend.id, reason }, 'backend removed');
      this.emit('backend_removed', backend, reason);
    });

    this.fleet = options.fleet === undefined ? undefined : new ProxyFleet(options.fleet, options.logger);
    this.fleet?.on('node_added', (node) => this.#nodeUp('redis', node));
    this.fleet?.on('node_removed', (node, reason) => this.#nodeDown('redis', node.id, reason));
    if (options.trustStore === undefined && options.control !== undefined && this.fleet === undefined) {
      this.#ownedTrustStore = new FileTrustStore(options.certstore, { logger: options.logger, strictModes: options.strictTrustStoreModes === true });
    }
    this.trustStore = options.trustStore ?? this.fleet?.trustStore ?? this.#ownedTrustStore;
    this.#adminOptions = options.admin;
    this.certificates = options.acme === undefined ? undefined : this.#buildCertificates(options.acme, options);
    this.#discoveryConfig = options.discovery;
    this.controlPlane = options.control === undefined || this.trustStore === undefined ? undefined : this.#buildControlPlane(options.control, this.trustStore, options.logger);
    this.discovery = this.#buildDiscovery(options.logger);
    this.metrics = new ProxyMetrics(this, registry);
    registerTrustMetrics(this.metrics.registry, this);
    this.admin = options.admin === undefined ? undefined : new AdminServer(options.admin, this, options.logger);
  }

  /** Bound addresses (`http`, `https` with a certificate, `control` and `admin` when enabled); empty before start. */
  get addresses(): ProxyAddresses {
    return {
      ...this.forwarding.addresses,
      control: this.controlPlane?.state === 'RUNNING' ? this.controlPlane.address : undefined,
      admin: this.admin?.boundAddress,
    };
  }

  /** True once every listener is up, false again as soon as `stop()` is called (`/readyz`). */
  get ready(): boolean {
    return this.#ready;
  }

  /** Base64 SHA-256 pin of the control plane's certificate public key (agents verify the proxy by it). */
  get pin(): string | undefined {
    return this.controlPlane?.pin;
  }

  /** True once `stop()` was called. */
  protected get stopping(): boolean {
    return this.#stopPromise !== undefined;
  }

  /**
   * Starts every part in the order documented above; idempotent (a second call returns the same
   * promise). A part that fails to start stops the parts already started, so a failed start leaves no
   * listener behind.
   *
   * @throws {ListenError} (`RP_ERR_LISTEN`) when a port cannot be bound, naming host:port.
   * @throws {TlsError} (`RP_ERR_TLS`) when the data plane's certificate or key is unusable.
   * @throws {TrustStoreError} (`RP_ERR_TRUST_STORE`) when the trust store cannot be read.
   * @throws {NotRunningError} (`RP_ERR_NOT_RUNNING`) after `stop()`.
   */
  start(): Promise<ProxyAddresses> {
    if (this.#stopPromise !== undefined) return Promise.reject(new NotRunningError('the proxy was stopped and cannot start again'));
    this.#startPromise ??= this.#start();
    return this.#startPromise;
  }

  async #start(): Promise<ProxyAddresses> {
    try {
      await this.fleet?.startTrust();
      await this.#ownedTrustStore?.start();
      await this.#startCertificates();
      await this.forwarding.start();
      await this.controlPlane?.start();
      await this.#startDiscovery();
      await this.admin?.start();
      await this.fleet?.announce(this.addresses, this.pin, this.pin !== undefined);
    } catch (error) {
      await this.#stopParts();
      throw error;
    }
    const addresses = this.addresses;
    this.#ready = this.#stopPromise === undefined;
    this.logger.info({ addresses, pin: this.pin }, 'proxy listening');
    this.emit('listening', addresses);
    return addresses;
  }

  /**
   * Gracefully stops every part; idempotent. Forwarding stops accepting (new requests get 503 and
   * `Connection: close`) and lets in-flight requests finish within `shutdownTimeoutMs` while the control
   * plane closes (agents see 1001 and start reconnecting). Backends are removed with reason `stopped`.
   */
  stop(): Promise<void> {
    // Readiness flips first, so load balancers stop sending before anything closes.
    this.#ready = false;
    // At once, not after the start settles: a Ctrl-C reaches cluster workers too, and their exits must
    // not be taken for deaths to replace.
    this.forwarding.markStopping?.();
    this.#stopPromise ??= (async () => {
      await this.#startPromise?.catch(() => undefined);
      await this.#stopParts();
    })();
    return this.#stopPromise;
  }

  /**
   * Applies settings that can change live, without dropping anything: new requests, sessions and log
   * lines get them, requests and sessions in flight keep theirs. Each part validates before it applies
   * (an invalid value throws and that part is unchanged). In a cluster, resolves once every worker
   * applies them.
   *
   * @throws {InvalidOptionError} naming the option.
   */
  async reconfigure(settings: LiveProxySettings): Promise<void> {
    if (settings.dataPlane !== undefined || settings.logLevel !== undefined) await this.forwarding.reconfigure(settings.dataPlane ?? {}, settings.logLevel);
    if (settings.limits !== undefined) this.controlPlane?.reconfigureLimits(settings.limits);
    if (settings.logLevel !== undefined) this.#rootLogger.level = settings.logLevel;
  }

  /** Resolves once the backend has no request or tunnel in flight (at once if it has none). */
  whenIdle(backendId: string): Promise<void> {
    return this.forwarding.whenIdle(backendId);
  }

  /** A read-only copy of routes, upstreams and counters (for the admin status API and tests). */
  snapshot(): DataPlaneSnapshot {
    return this.forwarding.snapshot();
  }

  /**
   * The fleet as `fleet.list`, `/api/status` and the status page show it: every live proxy (this one
   * flagged `self`) and whether this proxy's trust store may be used. A proxy without Redis lists itself.
   */
  fleetSummary(): FleetSummary {
    const health = this.trustStore?.health() ?? { ok: false, reason: 'no trust store' };
    const trust = { kind: this.trustStore?.kind ?? 'none', ok: health.ok, ...(health.reason === undefined ? {} : { reason: health.reason }) };
    const fleet = this.fleet;
    // Peers only LAN discovery sees (all of them without Redis) are listed too.
    const inRedis = new Set(fleet?.membership.nodes().map((node) => node.id) ?? []);
    const discovered = (this.discovery?.peers() ?? [])
      .filter((peer) => !inRedis.has(peer.announcement.proxyId))
      .map((peer) => ({ ...(this.#nodes.get(peer.announcement.proxyId)?.node ?? discoveredNode(peer)), self: false }));
    if (fleet === undefined) {
      const announced = this.discovery?.announcement;
      const addresses = announced?.controlUrls ?? advertisedUrls(this.addresses, 'localhost', this.pin !== undefined);
      const self = { id: announced?.proxyId ?? 'local', addresses, ...(this.pin === undefined ? {} : { pin: this.pin }), startedAt: this.#startedAt, self: true };
      return { shared: false, trust, nodes: [self, ...discovered] };
    }
    const self = fleet.membership.id;
    return { shared: true, trust, nodes: [...fleet.membership.nodes().map((node) => ({ ...node, self: node.id === self })), ...discovered] };
  }

  /** Emits `error`, or logs it when nobody listens (a part's failure after start is never thrown). */
  protected reportError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else this.logger.error({ err: error }, 'proxy part failed');
  }

  async #stopParts(): Promise<void> {
    // Leave the fleet first, so that peers drop this proxy at once rather than when its TTL expires.
    const left = this.fleet?.membership.stop();
    // Forwarding starts its graceful stop first: closing the control plane removes every backend, and
    // requests arriving in between would otherwise get 403 NO_TARGET instead of 503 + close.
    const forwardingStopped = this.forwarding.stop();
    // Beacons stop first: peers and agents see this proxy go while its sessions close.
    await this.discovery?.stop();
    await this.controlPlane?.stop();
    await forwardingStopped;
    this.registry.clear('stopped');
    await this.#stopCertificates();
    await left;
    await this.fleet?.stop();
    await this.#ownedTrustStore?.stop();
    // Last, so that /readyz answers 503 (and /metrics stays scrapable) while the proxy drains.
    await this.admin?.stop();
  }

  /**
   * The data-plane and admin listeners (bound, and the admin's configured port before it binds), which
   * the control plane never accepts as targets (issue 14). Cluster workers share the data-plane ports.
   */
  #listeners(): ListenerAddress[] {
    const { http, https } = this.forwarding.addresses;
    const listeners: ListenerAddress[] = [];
    for (const address of [http, https, this.admin?.boundAddress]) if (address !== undefined) listeners.push({ address: address.address, port: address.port });
    const admin = this.#adminOptions;
    if (admin !== undefined && admin.port !== 0) listeners.push({ address: admin.host, port: admin.port });
    return listeners;
  }

  #buildCertificates(acme: ResolvedAcmeOptions, options: ProxyHostOptions): CertificateManager {
    const fleet = this.fleet;
    const logger = options.logger.child({ component: 'acme' });
    const certificates = new CertificateManager(acme, {
      keys: () => this.trustStore?.list(),
      storageDir: path.join(options.certstore, 'acme'),
      // A fleet keeps its certificates beside its keys, under the fleet's prefix: one proxy orders a
      // certificate (holding the name's lock), every proxy serves it, and the CA may dial any of them.
      ...(fleet === undefined ? {} : { defaultStorage: () => fleetCertificateStorage(fleet, logger) }),
      logger: options.logger,
    });
    // A host-bound rule in some key's scope gets its certificate before its first client asks.
    this.registry.on('added', (backend) => certificates.prefetch(backend.rules.map((rule) => rule.host)));
    return certificates;
  }

  /** Starts the certificate manager over the loaded trust store; a key added or removed changes the allowed names. */
  async #startCertificates(): Promise<void> {
    const certificates = this.certificates;
    if (certificates === undefined) return;
    this.trustStore?.on('added', this.#keysChanged);
    this.trustStore?.on('removed', this.#keysChanged);
    certificates.keysChanged();
    await certificates.start();
  }

  async #stopCertificates(): Promise<void> {
    if (this.certificates === undefined) return;
    // A store given by the caller outlives this proxy: its listeners come off again.
    this.trustStore?.off('added', this.#keysChanged);
    this.trustStore?.off('removed', this.#keysChanged);
    await this.certificates.stop();
  }

  /** A peer seen by Redis membership or by beacons: `node_added` the first time either sees it. */
  #nodeUp(source: NodeSource, node: FleetNode): void {
    const known = this.#nodes.get(node.id);
    if (known === undefined) {
      this.#nodes.set(node.id, { sources: new Set([source]), node });
      this.emit('node_added', node);
      return;
    }
    known.sources.add(source);
    // Redis membership knows more (every address, the start time): its view wins when both have one.
    if (source === 'redis') known.node = node;
    else if (!known.sources.has('redis')) known.node = { ...node, startedAt: known.node.startedAt };
  }

  /** A peer lost by one source: `node_removed` once no source sees it any more. */
  #nodeDown(source: NodeSource, id: string, reason: NodeRemovedReason): void {
    const known = this.#nodes.get(id);
    if (known === undefined || !known.sources.delete(source) || known.sources.size > 0) return;
    this.#nodes.delete(id);
    this.emit('node_removed', known.node, reason);
  }

  #buildDiscovery(logger: Logger): ProxyDiscovery | undefined {
    const config = this.#discoveryConfig;
    const pin = this.controlPlane?.pin;
    if (config === undefined || pin === undefined) return undefined;
    // The URLs and the default id need the bound port; start() completes the announcement before the
    // first beacon. Until then it names the configured port (or 3042 for an ephemeral one).
    const port = this.#configuredControlPort();
    const proxyId = config.proxyId ?? this.fleet?.membership.id ?? defaultProxyId(port);
    const discovery = new ProxyDiscovery(config.options, { proxyId, controlUrls: config.controlUrls ?? [`wss://127.0.0.1:${port}/`], pin }, logger);
    discovery.on('node_added', (peer: DiscoveredProxy) => this.#nodeUp('beacon', discoveredNode(peer)));
    discovery.on('node_changed', (peer: DiscoveredProxy) => this.#nodeUp('beacon', discoveredNode(peer)));
    discovery.on('node_removed', (peer: DiscoveredProxy) => this.#nodeDown('beacon', peer.announcement.proxyId, 'gone'));
    return discovery;
  }

  #configuredControlPort(): number {
    const port = (this.#controlOptions?.port as number | undefined) ?? 3042;
    return port === 0 ? 3042 : port;
  }

  async #startDiscovery(): Promise<void> {
    const discovery = this.discovery;
    const config = this.#discoveryConfig;
    const controlPlane = this.controlPlane;
    if (discovery === undefined || config === undefined || controlPlane === undefined) return;
    const { address, port } = controlPlane.address;
    const host = announcedHost(config.options.interface, address);
    discovery.update({
      proxyId: config.proxyId ?? this.fleet?.membership.id ?? defaultProxyId(port),
      controlUrls: config.controlUrls ?? [`wss://${host}:${port}/`],
      pin: discovery.announcement.pin,
    });
    await discovery.start();
    this.logger.info({ proxyId: discovery.announcement.proxyId, controlUrls: discovery.announcement.controlUrls }, 'LAN discovery on: beacons sent, probes answered');
  }

  #buildControlPlane(control: Readonly<ProxyControlOptions>, trustStore: TrustStore, logger: Logger): ControlPlane {
    const forwarding = this.forwarding;
    const whenRouted = forwarding.whenRouted?.bind(forwarding);
    this.#controlOptions = control;
    const keyring = this.#discoveryConfig?.keyring;
    const controlPlane = new ControlPlane({
      ...control,
      ...(keyring === undefined ? {} : { channelProof: (socket: TLSSocket, agentProof: string) => answerChannelProof(keyring, socket, agentProof) }),
      registry: this.registry,
      trustStore,
      ...(this.fleet === undefined ? {} : { replayCache: this.fleet.replayCache }),
      fleet: { fleet: () => this.fleetSummary() },
      whenIdle: (backendId) => forwarding.whenIdle(backendId),
      ...(whenRouted === undefined ? {} : { whenRouted }),
      ownListeners: () => this.#listeners(),
      logger,
    });
    controlPlane.on('backend_rejected', (rejection) => this.emit('backend_rejected', rejection));
    controlPlane.on('message', (event) => this.emit('message', event));
    controlPlane.on('error', (error) => this.reportError(error));
    return controlPlane;
  }
}

/** How long a Redis outage of the certificate storage is logged once, in milliseconds. */
const STORAGE_ERROR_LOG_INTERVAL_MS = 60_000;

/** The ACME storage of a fleet: the fleet's Redis, keys under `<fleet prefix>acme:`. */
function fleetCertificateStorage(fleet: ProxyFleet, logger: Logger): RedisCertificateStorage {
  const { url, prefix } = fleet.options.connection;
  let loggedAt = -Infinity;
  return new RedisCertificateStorage({
    url,
    prefix: `${prefix}acme:`,
    // The client reconnects by itself; an outage is logged once a minute, never with the URL's password.
    onError: (error) => {
      const now = performance.now();
      if (now - loggedAt < STORAGE_ERROR_LOG_INTERVAL_MS) return;
      loggedAt = now;
      logger.warn({ err: error.message }, 'ACME certificate storage: Redis connection error; reconnecting');
    },
  });
}
