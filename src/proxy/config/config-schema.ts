/**
 * Every option an operator can set, in one list: the single source of the config file's validation, of
 * the environment variables that override it, of what a reload applies live, of `--check-config`'s
 * masking, and of the generated option tables (`docs/configuration.md`, the README). Defaults are the
 * `DEFAULT_*` constants of the options files that own them, imported, never written twice; ranges are
 * those the `resolve*Options` validators enforce, and `test/unit/config/config-schema.test.ts` probes
 * each bound against them and fails when a resolved option has no entry here.
 *
 * Adding an option is one line: `integer('control.fooMs', DEFAULT_FOO_MS, 1, 60_000, 'what it does')`.
 */
import { ENV_DEFAULTS, LOG_FORMATS, LOG_LEVELS } from '../../shared/env.js';
import {
  DEFAULT_ADMIN_AUDIENCE,
  DEFAULT_ADMIN_HOST,
  DEFAULT_ADMIN_PORT,
  DEFAULT_EVENT_BUFFER_SIZE,
  DEFAULT_HISTORY_SAMPLES,
  DEFAULT_SAMPLE_INTERVAL_MS,
} from '../admin/admin-options.js';
import {
  DEFAULT_CHECK_INTERVAL_MS,
  DEFAULT_HANDSHAKE_WAIT_MS,
  DEFAULT_MAX_PENDING_ORDERS,
  DEFAULT_ORDER_TIMEOUT_MS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_RENEW_AT_FRACTION,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RETRY_MAX_MS,
  DEFAULT_RETRY_MIN_MS,
} from '../acme/acme-options.js';
import { DEFAULT_BOOTSTRAP_KEY_DIR } from '../bootstrap-admin-key.js';
import { DEFAULT_REPORT_INTERVAL_MS, DEFAULT_RESPAWN_DELAY_MS, DEFAULT_RESPAWN_MAX_DELAY_MS, MAX_WORKERS } from '../cluster/cluster-options.js';
import {
  DEFAULT_ADMIN_MESSAGE_BURST,
  DEFAULT_ADMIN_MESSAGES_PER_SECOND,
  DEFAULT_DISTINCT_RULES_WINDOW_MS,
  DEFAULT_MAX_DISTINCT_RULES_PER_KEY,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_CONTROL_HOST,
  DEFAULT_CONTROL_PORT,
  DEFAULT_GATEKEEPER_TIMEOUT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_INVALID_FRAMES,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  DEFAULT_MAX_QUEUED_HANDSHAKES,
  DEFAULT_MAX_RULES_PER_REGISTRATION,
  DEFAULT_MAX_SESSIONS_PER_KEY,
  DEFAULT_MAX_TARGETS_PER_REGISTRATION,
  DEFAULT_MESSAGE_BURST,
  DEFAULT_MESSAGES_PER_SECOND,
  DEFAULT_MISSED_PONGS,
  DEFAULT_REGISTER_TIMEOUT_MS,
} from '../control-plane/control-plane-options.js';
import {
  DEFAULT_AFFINITY,
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_CLIENT_HEADERS_TIMEOUT_MS,
  DEFAULT_CLIENT_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_CLIENT_REQUEST_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_CONNECTIONS_PER_ORIGIN,
  DEFAULT_EJECT_AFTER_FAILURES,
  DEFAULT_EJECT_DURATION_MS,
  DEFAULT_H2_MAX_CONCURRENT_STREAMS,
  DEFAULT_HOST,
  DEFAULT_MAX_HEADER_SIZE,
  DEFAULT_MAX_TUNNELS_PER_TARGET,
  DEFAULT_NO_TARGET_STATUS,
  DEFAULT_PORT,
  DEFAULT_RESPONSE_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_TLS_PORT,
  DEFAULT_UPSTREAM_KEEP_ALIVE_TIMEOUT_MS,
  MAX_TIMEOUT_MS,
} from '../data-plane/data-plane-options.js';
import { SELECTORS } from '../data-plane/selectors/index.js';
import {
  DEFAULT_BEACON_INTERVAL_MS,
  DEFAULT_BEACON_JITTER,
  DEFAULT_BEACON_LIFETIME_INTERVALS,
  DEFAULT_BEACON_PORT,
  DEFAULT_BROADCAST_ADDRESS,
  DEFAULT_DISCOVERY_GROUP,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  DEFAULT_MAX_PROXIES,
  DEFAULT_MULTICAST_TTL,
  DEFAULT_PROBE_PORT,
  DEFAULT_PROBE_TIMEOUT_MS,
  DEFAULT_RATE_LIMITS,
} from '../../shared/discovery/discovery-options.js';
import { DEFAULT_CERTSTORE_DIR } from '../proxy-options.js';
import { DEFAULT_FLEET_TTL_MS } from '../../shared/fleet/fleet-membership.js';
import { DEFAULT_REDIS_COMMAND_TIMEOUT_MS, DEFAULT_REDIS_CONNECT_TIMEOUT_MS, DEFAULT_REDIS_PREFIX } from '../../shared/redis/redis-options.js';
import { DEFAULT_TRUST_MAX_STALENESS_MS } from '../../shared/trust/redis/redis-trust-store-options.js';
import { boolean, filePath, host, integer, list, number, oneOf, type OptionSpec, section, string } from './option-spec.js';

const MAX = MAX_TIMEOUT_MS;
const live = { live: true } as const;
const command = { consumer: 'command' } as const;
const cluster = { consumer: 'cluster' } as const;

/** The schema, in the order the docs list it. */
export const CONFIG_SCHEMA: readonly OptionSpec[] = Object.freeze([
  // The data plane.
  host('host', DEFAULT_HOST, 'Address of the HTTP and HTTPS listeners.', { env: 'PROXY_HOST' }),
  integer('port', DEFAULT_PORT, 0, 65_535, 'HTTP port (0 picks a free one).', { env: 'PROXY_PORT' }),
  integer('tlsPort', DEFAULT_TLS_PORT, 0, 65_535, 'HTTPS port (0 picks a free one).', { env: 'PROXY_TLS_PORT' }),
  section('tls', 'Certificate of HTTPS, shared with the control plane; a development pair is generated when both files are absent.', command),
  filePath('tls.cert', ENV_DEFAULTS.PROXY_TLS_CERT, 'PEM certificate file.', { env: 'PROXY_TLS_CERT', ...command }),
  filePath('tls.key', ENV_DEFAULTS.PROXY_TLS_KEY, 'PEM private key file.', { env: 'PROXY_TLS_KEY', secret: true, ...command }),
  oneOf('selector', Object.keys(SELECTORS), 'round-robin', 'How a rule picks among its ready targets; `weighted` honours each backend\'s weight (`inteli-agent --weight`).', { env: 'PROXY_SELECTOR', ...live }),
  integer('noTargetStatus', DEFAULT_NO_TARGET_STATUS, 400, 599, 'Status of NO_ROUTE and NO_TARGET answers.', live),
  list('trustedProxies', 'ip-or-cidr', [], 'IPs and CIDRs of proxies in front whose X-Forwarded-* headers are kept (comma-separated in the variable).', { env: 'PROXY_TRUSTED_PROXIES', ...live }),
  integer('connectTimeoutMs', DEFAULT_CONNECT_TIMEOUT_MS, 1, MAX, 'Upstream connect timeout, in ms (then 502, retried when safe).', live),
  integer('responseTimeoutMs', DEFAULT_RESPONSE_TIMEOUT_MS, 1, MAX, 'Upstream response-headers timeout, in ms (then 504).', live),
  integer('bodyTimeoutMs', DEFAULT_BODY_TIMEOUT_MS, 0, MAX, 'Longest silence between upstream body chunks, in ms (0: none); a route\'s backends may set their own; `text/event-stream` answers and tunnels have none. A cut answer ends the client connection.', { env: 'PROXY_BODY_TIMEOUT_MS', ...live }),
  oneOf('affinity', ['none', 'cookie', 'hash'], DEFAULT_AFFINITY, 'Session affinity of routes whose backends ask for none: `cookie` (a signed cookie names the target) or `hash` (of the client address, or of affinityHeader).', { env: 'PROXY_AFFINITY' }),
  string('affinityHeader', undefined, 'With `affinity: hash`: the request header hashed instead of the client address.', { env: 'PROXY_AFFINITY_HEADER', defaultText: 'none', maxLength: 64 }),
  string('affinitySecret', undefined, 'Key of the affinity cookies\' HMAC, at least 16 bytes; give proxies that share clients the same one.', { secret: true, defaultText: '32 random bytes per start (shared by the workers)', minLength: 16, maxLength: 1024 }),
  integer('upstreamKeepAliveTimeoutMs', DEFAULT_UPSTREAM_KEEP_ALIVE_TIMEOUT_MS, 1, MAX, 'Idle time of pooled upstream connections, in ms.'),
  integer('connectionsPerOrigin', DEFAULT_CONNECTIONS_PER_ORIGIN, 1, 65_536, 'Most connections per upstream origin.'),
  boolean('retry', true, 'Retry an idempotent request once on another target after a connect failure or a reset before any response byte.'),
  integer('ejectAfterFailures', DEFAULT_EJECT_AFTER_FAILURES, 0, 1000, 'Consecutive connect failures that eject a target (0: never).'),
  integer('ejectDurationMs', DEFAULT_EJECT_DURATION_MS, 1, MAX, 'How long an ejected target is skipped, in ms.'),
  integer('shutdownTimeoutMs', DEFAULT_SHUTDOWN_TIMEOUT_MS, 0, MAX, 'Bound on in-flight work during a graceful stop, in ms.'),
  boolean('accessLog', false, 'Log one info line per forwarded request: `true` (the path without its query string) or `{ query: true }`.', { env: 'PROXY_ACCESS_LOG', orSection: true, ...live }),
  boolean('accessLog.query', false, 'Log the query string too (it may carry tokens or personal data).', live),
  integer('clientRequestTimeoutMs', DEFAULT_CLIENT_REQUEST_TIMEOUT_MS, 0, MAX, 'Time a client has to send a whole request, in ms (0: none).'),
  integer('clientHeadersTimeoutMs', DEFAULT_CLIENT_HEADERS_TIMEOUT_MS, 1, MAX, 'Time a client has to send the request headers, in ms (slowloris guard); at most clientRequestTimeoutMs.'),
  integer('clientKeepAliveTimeoutMs', DEFAULT_CLIENT_KEEP_ALIVE_TIMEOUT_MS, 0, MAX, 'Idle time of client keep-alive connections, in ms.'),
  integer('maxHeaderSize', DEFAULT_MAX_HEADER_SIZE, 1024, 1_048_576, 'Largest request header block, in bytes.'),
  boolean('upstreamRejectUnauthorized', true, 'Verify the certificates of `https` targets.'),
  boolean('http2', true, 'Offer HTTP/2 (ALPN `h2`, with HTTP/1.1 fallback) on the HTTPS listener.'),
  integer('h2MaxConcurrentStreams', DEFAULT_H2_MAX_CONCURRENT_STREAMS, 1, 10_000, 'Most concurrent streams per HTTP/2 session.'),
  string('proxyId', undefined, 'This proxy\'s `Via` pseudonym; a request already carrying it is a loop (508). Share one id between the processes of one proxy.', { defaultText: 'a random `inteli-<12 hex digits>`', maxLength: 64 }),
  integer('maxTunnelsPerTarget', DEFAULT_MAX_TUNNELS_PER_TARGET, 1, 1_048_576, 'Open tunnels (WebSocket and other upgrades) per target origin (then 503 TUNNEL_LIMIT).'),
  filePath('upstreamCa', undefined, 'PEM file of extra CAs trusted for `https` targets (default: the system CAs).', command),

  // ACME certificates for the hosts of host-bound rules in trusted keys' scopes (one process only).
  section('acme', 'Certificates obtained by ACME and served by SNI on the HTTPS listener (docs/acme.md); single-process mode only.', { optional: true }),
  string('acme.directoryUrl', undefined, 'The ACME directory, `https://` (`https://acme-v02.api.letsencrypt.org/directory`).', { env: 'PROXY_ACME_DIRECTORY_URL', required: true, maxLength: 2048, defaultText: 'none: ACME off' }),
  string('acme.email', undefined, 'Contact e-mail of the ACME account (expiry notices).', { env: 'PROXY_ACME_EMAIL', defaultText: 'none' }),
  boolean('acme.termsOfServiceAgreed', true, 'Agree to the CA\'s terms of service when creating the account.'),
  filePath('acme.caCertificates', undefined, 'PEM file of CA certificates trusted for the ACME server only (a private CA).', { env: 'PROXY_ACME_CA', ...command }),
  number('acme.renewAtFraction', DEFAULT_RENEW_AT_FRACTION, 0.1, 0.95, 'Share of a certificate\'s lifetime after which it is renewed.'),
  integer('acme.checkIntervalMs', DEFAULT_CHECK_INTERVAL_MS, 1000, 86_400_000, 'Interval between renewal sweeps, in ms.'),
  integer('acme.retryMinMs', DEFAULT_RETRY_MIN_MS, 10, 86_400_000, 'First retry delay after a failed order, in ms (doubles per failure).'),
  integer('acme.retryMaxMs', DEFAULT_RETRY_MAX_MS, 10, 604_800_000, 'Longest retry delay, in ms; at least retryMinMs.'),
  integer('acme.maxPendingOrders', DEFAULT_MAX_PENDING_ORDERS, 1, 1000, 'Most orders in progress at once.'),
  integer('acme.handshakeWaitMs', DEFAULT_HANDSHAKE_WAIT_MS, 0, 60_000, 'How long a handshake for a name without a certificate waits for its order, in ms.'),
  integer('acme.requestTimeoutMs', DEFAULT_REQUEST_TIMEOUT_MS, 100, 600_000, 'Timeout of one request to the ACME server, in ms.'),
  integer('acme.orderTimeoutMs', DEFAULT_ORDER_TIMEOUT_MS, 1000, 3_600_000, 'Bound on a whole order, in ms.'),
  integer('acme.pollIntervalMs', DEFAULT_POLL_INTERVAL_MS, 10, 60_000, 'First polling interval of an order, in ms.'),

  // LAN discovery (docs/discovery.md): on when a cluster secret is given; one process only.
  section('discovery', 'LAN discovery: authenticated beacons, probe answers and peer proxies (docs/discovery.md); single-process mode only.', { optional: true }),
  string('discovery.secret', undefined, 'Cluster secret(s): at least 32 random bytes in base64 or hex (`openssl rand -base64 32`), several comma-separated to rotate (the first one seals).', { env: 'PROXY_CLUSTER_SECRET', secret: true, required: true, maxLength: 4096, defaultText: 'none: discovery off' }),
  filePath('discovery.secretFile', undefined, 'File holding the cluster secret instead of `secret` (not both).', { env: 'PROXY_CLUSTER_SECRET_FILE', required: true, defaultText: 'none', ...command }),
  string('discovery.proxyId', undefined, 'This proxy\'s id in beacons and peers\' events, `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`.', { defaultText: 'the fleet node id, else `<host name>-<control port>`', maxLength: 64 }),
  string('discovery.group', DEFAULT_DISCOVERY_GROUP, 'Multicast group of beacons (IPv4, 224.0.0.0/4).', { maxLength: 15 }),
  integer('discovery.port', DEFAULT_BEACON_PORT, 0, 65_535, 'UDP port of beacons.'),
  integer('discovery.probePort', DEFAULT_PROBE_PORT, 0, 65_535, 'UDP port of probe answers.'),
  string('discovery.interface', undefined, 'Local IPv4 address of the interface beacons and probes use (multi-homed hosts).', { defaultText: 'the system\'s choice', maxLength: 15 }),
  integer('discovery.ttl', DEFAULT_MULTICAST_TTL, 0, 255, 'Multicast TTL (0: this host only).'),
  boolean('discovery.broadcastOnly', false, 'Send beacons as UDP broadcast instead of multicast (networks that drop multicast).'),
  string('discovery.broadcastAddress', DEFAULT_BROADCAST_ADDRESS, 'Broadcast destination with broadcastOnly.', { maxLength: 15 }),
  string('discovery.bindAddress', undefined, 'Address the receivers bind to.', { defaultText: 'the group, or `0.0.0.0` with broadcastOnly', maxLength: 15 }),
  integer('discovery.intervalMs', DEFAULT_BEACON_INTERVAL_MS, 50, 300_000, 'Mean beacon interval, in ms.'),
  number('discovery.jitter', DEFAULT_BEACON_JITTER, 0, 0.5, 'Beacon interval jitter (fraction).'),
  integer('discovery.lifetimeIntervals', DEFAULT_BEACON_LIFETIME_INTERVALS, 2, 10, 'Beacon lifetime, in intervals.'),
  integer('discovery.maxClockSkewMs', DEFAULT_MAX_CLOCK_SKEW_MS, 0, 300_000, 'Tolerated clock difference, in ms.'),
  integer('discovery.maxProxies', DEFAULT_MAX_PROXIES, 1, 4096, 'Most peer proxies tracked.'),
  integer('discovery.probeTimeoutMs', DEFAULT_PROBE_TIMEOUT_MS, 10, 60_000, 'Wait for probe answers, in ms.'),
  boolean('discovery.peers', true, 'Listen for peer proxies\' beacons (`node_added` / `node_removed`).'),
  boolean('discovery.answerProbes', true, 'Answer agents\' unicast probes.'),
  section('discovery.rateLimits', 'Datagram rate limits per source and in all.'),
  integer('discovery.rateLimits.perSourcePerSecond', DEFAULT_RATE_LIMITS.perSourcePerSecond, 1, 100_000, 'Datagrams per second from one source address.'),
  integer('discovery.rateLimits.perSourceBurst', DEFAULT_RATE_LIMITS.perSourceBurst, 1, 100_000, 'Burst from one source address.'),
  integer('discovery.rateLimits.globalPerSecond', DEFAULT_RATE_LIMITS.globalPerSecond, 1, 1_000_000, 'Datagrams per second from all sources.'),
  integer('discovery.rateLimits.maxSources', DEFAULT_RATE_LIMITS.maxSources, 1, 1_000_000, 'Most source addresses remembered.'),

  // The control plane.
  section('control', 'The WSS control plane where agents register.'),
  host('control.host', DEFAULT_CONTROL_HOST, 'Control-plane address.', { env: 'PROXY_WS_HOST' }),
  integer('control.port', DEFAULT_CONTROL_PORT, 0, 65_535, 'Control-plane port.', { env: 'PROXY_WS_PORT' }),
  boolean('control.insecure', false, 'Serve plain ws without TLS (local development only; logs a warning).'),
  string('control.audience', undefined, 'The `aud` agent and admin tokens must carry; set it only for agents that send a fixed audience.', { defaultText: '`inteli-proxy:<pin of the control certificate>` (`inteli-proxy` without TLS)' }),
  list('control.allowedRoles', ['agent', 'admin'], ['agent', 'admin'], 'Roles that may open a session; `[agent]` keeps key management off the network.'),
  integer('control.heartbeatIntervalMs', DEFAULT_HEARTBEAT_INTERVAL_MS, 10, 600_000, 'Interval between pings, in ms.'),
  integer('control.missedPongs', DEFAULT_MISSED_PONGS, 1, 100, 'Unanswered pings before a session is evicted.'),
  integer('control.closeTimeoutMs', DEFAULT_CLOSE_TIMEOUT_MS, 10, 60_000, 'Wait for a peer\'s close frame, in ms.'),
  section('control.limits', 'Limits; breaking one closes only the offending session. Live ones apply to new sessions.'),
  integer('control.limits.maxFrameBytes', DEFAULT_MAX_FRAME_BYTES, 128, 16 * 1024 * 1024, 'Largest frame, in bytes (then 4008).'),
  integer('control.limits.registerTimeoutMs', DEFAULT_REGISTER_TIMEOUT_MS, 10, 600_000, 'Time an agent has to register after the upgrade, in ms.', live),
  number('control.limits.messagesPerSecond', DEFAULT_MESSAGES_PER_SECOND, 0.1, 10_000, 'Sustained frames per second per session.', live),
  integer('control.limits.burst', DEFAULT_MESSAGE_BURST, 1, 100_000, 'Burst of frames per session above the sustained rate.', live),
  number('control.limits.adminMessagesPerSecond', DEFAULT_ADMIN_MESSAGES_PER_SECOND, 0.1, 10_000, 'Sustained frames per second per admin session.', live),
  integer('control.limits.adminBurst', DEFAULT_ADMIN_MESSAGE_BURST, 1, 100_000, 'Burst of frames per admin session.', live),
  integer('control.limits.maxSessionsPerKey', DEFAULT_MAX_SESSIONS_PER_KEY, 1, 10_000, 'Live sessions per key (then 429).', live),
  integer('control.limits.maxRulesPerRegistration', DEFAULT_MAX_RULES_PER_REGISTRATION, 1, 256, 'Rules per registration.', live),
  integer('control.limits.maxTargetsPerRegistration', DEFAULT_MAX_TARGETS_PER_REGISTRATION, 1, 256, 'Targets per registration.', live),
  integer('control.limits.maxPendingHandshakes', DEFAULT_MAX_PENDING_HANDSHAKES, 1, 100_000, 'Upgrade requests authenticated at once (then 429).', live),
  integer('control.limits.maxPendingUnknownHandshakes', undefined, 1, 100_000, 'Of those, how many may come from tokens naming no trusted key (then 429); at most maxPendingHandshakes.', { defaultText: 'a quarter of maxPendingHandshakes, at least 1', ...live }),
  integer('control.limits.maxQueuedHandshakes', DEFAULT_MAX_QUEUED_HANDSHAKES, 0, 100_000, 'Upgrades of known keys past maxPendingHandshakes that wait for a slot instead of getting 429 (0: none wait).', live),
  integer('control.limits.maxDistinctRulesPerKey', DEFAULT_MAX_DISTINCT_RULES_PER_KEY, 1, 1_000_000, 'Distinct rules one key may register within distinctRulesWindowMs, over all its sessions.', live),
  integer('control.limits.distinctRulesWindowMs', DEFAULT_DISTINCT_RULES_WINDOW_MS, 1000, 86_400_000, 'Window of maxDistinctRulesPerKey, in ms.', live),
  integer('control.limits.maxInvalidFrames', DEFAULT_MAX_INVALID_FRAMES, 0, 1000, 'Invalid frames tolerated per session before 4002.', live),
  integer('control.limits.handshakeTimeoutMs', DEFAULT_HANDSHAKE_TIMEOUT_MS, 100, 600_000, 'TLS handshake and upgrade-request timeout, in ms.'),
  integer('control.limits.gatekeeperTimeoutMs', DEFAULT_GATEKEEPER_TIMEOUT_MS, 1, 600_000, 'Bound on each gatekeeper, in ms.', live),
  integer('control.limits.maxBufferedBytes', undefined, 1024, 1024 * 1024 * 1024, 'Bytes queued to a slow session before it is closed.', { defaultText: '16 x maxFrameBytes', ...live }),

  // The admin listener.
  section('admin', 'The admin listener: health, readiness, metrics, status API and page; `false` turns it off.', { canDisable: true }),
  host('admin.host', DEFAULT_ADMIN_HOST, 'Admin address; anything but loopback requires auth.', { env: 'PROXY_ADMIN_HOST' }),
  integer('admin.port', DEFAULT_ADMIN_PORT, 0, 65_535, 'Admin port.', { env: 'PROXY_ADMIN_PORT' }),
  boolean('admin.requireAuth', undefined, 'Require an admin key\'s bearer JWT on /metrics and /api/*; cannot be false off loopback.', { defaultText: 'true unless admin.host is loopback' }),
  list('admin.allowedHosts', 'host', [], 'Host names besides loopback ones that unauthenticated requests may name in `Host` (against DNS rebinding).', { maxItems: 64 }),
  string('admin.audience', DEFAULT_ADMIN_AUDIENCE, 'The `aud` admin-listener tokens must carry.'),
  integer('admin.sampleIntervalMs', DEFAULT_SAMPLE_INTERVAL_MS, 100, 60_000, 'Request-rate sampling interval of the status page, in ms.'),
  integer('admin.historySamples', DEFAULT_HISTORY_SAMPLES, 2, 10_000, 'Rate samples kept.'),
  integer('admin.eventBufferSize', DEFAULT_EVENT_BUFFER_SIZE, 1, 10_000, 'Control events kept for the status API.'),

  // The trust store, the process and the command.
  section('trustStore', 'Where trusted keys live: by default the file store in `certstore`.', { optional: true }),
  section('trustStore.redis', 'A fleet: trusted keys, replay cache and membership shared in Redis with every proxy of the same URL and prefix (docs/fleet.md).', { optional: true }),
  string('trustStore.redis.url', undefined, '`redis://[user:password@]host:port[/db]` or `rediss://` (TLS).', { env: 'PROXY_REDIS_URL', secret: true, required: true, maxLength: 2048, defaultText: 'none: no fleet' }),
  string('trustStore.redis.prefix', DEFAULT_REDIS_PREFIX, 'Prefix of every key the fleet writes, `[A-Za-z0-9:._-]`.', { env: 'PROXY_REDIS_PREFIX', minLength: 0, maxLength: 64 }),
  integer('trustStore.redis.connectTimeoutMs', DEFAULT_REDIS_CONNECT_TIMEOUT_MS, 100, 60_000, 'Time to connect at start, in ms.'),
  integer('trustStore.redis.commandTimeoutMs', DEFAULT_REDIS_COMMAND_TIMEOUT_MS, 100, 60_000, 'Bound on one Redis command, in ms.'),
  integer('trustStore.redis.trustMaxStalenessMs', DEFAULT_TRUST_MAX_STALENESS_MS, 1000, 3_600_000, 'How long keys from Redis authenticate new sessions without contact with Redis, in ms (then 503 RP_ERR_TRUST_STALE).', { env: 'PROXY_TRUST_MAX_STALENESS_MS' }),
  string('trustStore.redis.nodeId', undefined, 'This proxy\'s id in the fleet, `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`.', { env: 'PROXY_NODE_ID', defaultText: '`<host name>-<control port>`', maxLength: 64 }),
  host('trustStore.redis.advertiseHost', undefined, 'Host announced in this proxy\'s URLs when a listener binds a wildcard address.', { defaultText: 'the host name' }),
  integer('trustStore.redis.membershipTtlMs', DEFAULT_FLEET_TTL_MS, 300, 60_000, 'Lifetime of the membership announcement, in ms.'),
  integer('trustStore.redis.streamBlockMs', undefined, 10, 30_000, 'Longest blocking read of the change stream, in ms; at most a third of trustMaxStalenessMs.', { defaultText: '2000, at most a third of trustMaxStalenessMs' }),
  filePath('certstore', DEFAULT_CERTSTORE_DIR, 'Directory of the trust store (trust-store.json, mode 0600).', { env: 'PROXY_CERTSTORE' }),
  filePath('keyDir', DEFAULT_BOOTSTRAP_KEY_DIR, 'Where the first start writes the admin key pair.', command),
  oneOf('logLevel', LOG_LEVELS, 'info', 'pino level.', { env: 'LOG_LEVEL', ...live, ...command }),
  oneOf('logFormat', LOG_FORMATS, 'auto', '`auto`: a start banner and pretty logs when stdout is a terminal, JSON lines otherwise; `json`; `pretty`.', { env: 'LOG_FORMAT', ...command }),
  boolean('watchConfig', false, 'Reload when the config file changes, as on SIGHUP.', { ...live, ...command }),
  integer('workers', 1, 1, MAX_WORKERS, 'Data-plane worker processes sharing the ports, or `auto` (one per core).', { env: 'PROXY_WORKERS', words: ['auto'], ...command }),
  integer('reportIntervalMs', DEFAULT_REPORT_INTERVAL_MS, 100, 60_000, 'Cluster: interval of the workers\' counter reports, in ms.', cluster),
  integer('respawnDelayMs', DEFAULT_RESPAWN_DELAY_MS, 10, 60_000, 'Cluster: first delay before replacing a dead worker, in ms.', cluster),
  integer('respawnMaxDelayMs', DEFAULT_RESPAWN_MAX_DELAY_MS, 10, 600_000, 'Cluster: longest such delay, in ms; at least respawnDelayMs.', cluster),
]);

/** The schema by path. */
export const SCHEMA_BY_PATH: ReadonlyMap<string, OptionSpec> = new Map(CONFIG_SCHEMA.map((spec) => [spec.path, spec]));

/** Environment variables the proxy reads besides those of the schema (not warned about as unknown). */
export const OTHER_PROXY_VARIABLES: readonly string[] = Object.freeze(['PROXY_CONFIG', 'PROXY_WS_URL']);
