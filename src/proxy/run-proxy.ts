/**
 * What `npm start` / `inteli-proxy` does, as a function so it can be tested in-process: from the loaded
 * configuration (file, environment, defaults: `config/load-config.ts`), make sure a certificate exists (a
 * development pair is generated when none is configured), bootstrap the first admin key on an empty
 * trust store, then start a `ProxyServer` with the data plane, HTTPS, the WSS control plane and the admin
 * listener (health, metrics, status page; loopback-only unless configured otherwise, then
 * token-protected). With `workers` > 1 the same startup steps feed a cluster primary instead
 * (`cluster/run-cluster.ts`).
 */
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { readClusterSecretFile } from '../shared/discovery/cluster-secret.js';
import { TlsError } from '../shared/errors.js';
import { localControlUrl, writeLocalProxyRecord } from '../shared/local-proxy-record.js';
import type { Logger } from '../shared/logger.js';
import { DEFAULT_ADMIN_ID } from '../shared/trust/init-admin.js';
import { ensureDevCertificate } from '../shared/tls/dev-certificate.js';
import { bootstrapAdminKey, bootstrapFleetAdminKey, type BootstrapOutcome, DEFAULT_BOOTSTRAP_KEY_DIR } from './bootstrap-admin-key.js';
import type { TrustStore } from '../shared/trust/trust-store.js';
import { commandSettings, plainServerOptions, type PlainServerOptions } from './config/config-options.js';
import type { LoadedConfig } from './config/load-config.js';
import { getIn, isTree } from './config/config-tree.js';
import type { AcmeOptions } from './acme/acme-options.js';
import type { ProxyDiscoveryConfig } from './proxy-discovery-config.js';
import { type ProxyAddresses, ProxyServer } from './proxy-server.js';
import { formatStartupBanner } from './startup-banner.js';

/** Options of {@link runProxy} beyond the configuration. */
export interface RunProxyOptions {
  /** Root logger. */
  logger: Logger;
  /**
   * Where the bootstrap admin key pair goes, and the record the sysadmin CLI reads (`proxy.json`).
   * Default the configuration's `keyDir` (`keys`).
   */
  keyDir?: string;
  /** Receives the human start banner (a terminal's stdout); without it, only the JSON log line is written. */
  banner?: (text: string) => void;
  /** Format of the cluster workers' log lines, as the root logger's. Default `json`. */
  logFormat?: 'json' | 'pretty';
}

async function readPem(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new TlsError(`cannot read the ${what} ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** What every start does once, before any listener: the certificate and the first admin key. */
export interface ProxyStartup {
  /** The certificate and key (PEM) of HTTPS and of the control plane. */
  readonly tls: { readonly cert: Buffer; readonly key: Buffer };
  /** Extra CAs (PEM) for `https` targets, when configured. */
  readonly upstreamCa: Buffer | undefined;
  /** ACME options (`acme`, `PROXY_ACME_*`), with the CA file read, when a directory URL is set. */
  readonly acme?: AcmeOptions | undefined;
  /**
   * LAN discovery (`discovery`, `PROXY_CLUSTER_SECRET[_FILE]`), with the secret file read, when a cluster
   * secret is configured.
   */
  readonly discovery?: ProxyDiscoveryConfig | undefined;
  /** The bootstrap admin key, when this start created it. */
  readonly bootstrap: BootstrapOutcome;
}

/**
 * Makes sure a certificate exists (a development pair is generated when none is configured), reads it,
 * and bootstraps the first admin key on an empty trust store. In cluster mode the primary runs this once.
 *
 * @throws {TlsError} naming the unreadable file.
 */
export async function prepareProxyStartup(config: LoadedConfig, options: RunProxyOptions): Promise<ProxyStartup> {
  const logger = options.logger.child({ component: 'startup' });
  const settings = commandSettings(config.values);
  if (await ensureDevCertificate(settings.tlsCert, settings.tlsKey)) {
    logger.warn({ certFile: settings.tlsCert, keyFile: settings.tlsKey }, 'no certificate configured: generated a self-signed development pair');
  }
  const tls = { cert: await readPem(settings.tlsCert, 'TLS certificate'), key: await readPem(settings.tlsKey, 'TLS key') };
  const upstreamCa = settings.upstreamCa === undefined ? undefined : await readPem(settings.upstreamCa, 'upstream CA file');
  const certstore = String(config.values.certstore);
  // A fleet's store is in Redis: it is bootstrapped once the proxy has loaded it (completeStartup).
  const bootstrap: BootstrapOutcome =
    settings.redisUrl === undefined ? await bootstrapAdminKey(certstore, options.keyDir ?? settings.keyDir, logger) : { created: false, reason: 'fleet' };
  const discovery = await discoveryOption(config);
  const withDiscovery = discovery === undefined ? {} : { discovery };
  const acme = getIn(config.values, 'acme');
  if (!isTree(acme)) return { tls, upstreamCa, bootstrap, ...withDiscovery };
  const caFile = getIn(config.values, 'acme.caCertificates');
  const caCertificates = caFile === undefined ? undefined : await readPem(String(caFile), 'ACME CA certificate');
  return { tls, upstreamCa, bootstrap, ...withDiscovery, acme: { ...(acme as unknown as AcmeOptions), caCertificates } };
}

/** After start, in a fleet: bootstraps the first admin key in the shared store when it is empty. */
export async function completeStartup(config: LoadedConfig, options: RunProxyOptions, startup: ProxyStartup, trustStore: TrustStore | undefined): Promise<ProxyStartup> {
  const settings = commandSettings(config.values);
  if (settings.redisUrl === undefined || trustStore === undefined) return startup;
  const bootstrap = await bootstrapFleetAdminKey(trustStore, options.keyDir ?? settings.keyDir, options.logger.child({ component: 'startup' }));
  return { ...startup, bootstrap };
}

/** The options `npm start` gives the proxy or the cluster primary: the configuration's, the startup's PEMs and the logger. */
export function startupProxyOptions<M extends 'single' | 'cluster'>(
  config: LoadedConfig,
  options: RunProxyOptions,
  startup: ProxyStartup,
  mode: M,
): PlainServerOptions & { tls: ProxyStartup['tls']; upstreamCa?: Buffer; logger: Logger } {
  // The ACME options come from the startup (the CA file read); the cluster runs without them.
  // So do discovery's (the secret file read).
  const { acme: _fromFile, discovery: _discovery, ...plain } = plainServerOptions(config.values, mode) as PlainServerOptions & { acme?: unknown; discovery?: unknown };
  return {
    ...plain,
    tls: startup.tls,
    ...(startup.upstreamCa === undefined ? {} : { upstreamCa: startup.upstreamCa }),
    logger: options.logger,
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Announces the started proxy: records its control URL and pin beside the admin key (so that
 * `inteli-sysadmin` on this machine needs no flags), logs where it listens (and which configuration file
 * it read), and prints the banner when `options.banner` is given. A record that cannot be written is a
 * warning, not a failed start.
 */
export async function logProxyRunning(config: LoadedConfig, options: RunProxyOptions, startup: ProxyStartup, proxy: { readonly addresses: ProxyAddresses; readonly pin: string | undefined }): Promise<void> {
  const logger = options.logger.child({ component: 'startup' });
  const { http, https, control, admin } = proxy.addresses;
  const settings = commandSettings(config.values);
  const keyDir = options.keyDir ?? settings.keyDir;
  let recordFile: string | undefined;
  if (control !== undefined && proxy.pin !== undefined) {
    try {
      recordFile = await writeLocalProxyRecord(keyDir, { proxyUrl: localControlUrl(String(getIn(config.values, 'control.host')), control.port), pin: proxy.pin });
    } catch (error) {
      logger.warn({ keyDir: path.resolve(keyDir), err: (error as Error).message }, 'could not record the control URL and pin for inteli-sysadmin; it will need --proxy and --pin');
    }
  }
  logger.info(
    {
      http: http?.port,
      https: https?.port,
      control: control?.port,
      admin: admin === undefined ? undefined : `${admin.address}:${admin.port}`,
      pin: proxy.pin,
      workers: settings.workers,
      record: recordFile,
      config: config.file,
    },
    'inteli-proxy is running; agents verify it with the pin (sha256 of the certificate public key)',
  );
  const adminKey = startup.bootstrap.created ? startup.bootstrap.result.privatePath : path.join(keyDir, `${DEFAULT_ADMIN_ID}.key.json`);
  // Without flags the CLI reads keys/admin.key.json and keys/proxy.json from its working directory.
  const needsKeyFlag = path.resolve(keyDir) !== path.resolve(DEFAULT_BOOTSTRAP_KEY_DIR) || !(await exists(adminKey));
  const sysadminCommand = needsKeyFlag ? `npx inteli-sysadmin keys list --id <admin id> --key <admin key file>${recordFile === undefined ? ` --pin ${proxy.pin ?? '<pin>'}` : ''}` : 'npx inteli-sysadmin keys list';
  if (startup.bootstrap.created) logger.info(`manage keys with: ${sysadminCommand}`);
  options.banner?.(
    formatStartupBanner({
      addresses: { http, https, control, admin },
      pin: proxy.pin,
      workers: settings.workers,
      recordFile: recordFile === undefined ? undefined : path.relative(process.cwd(), recordFile),
      sysadminCommand,
      createdAdminKey: startup.bootstrap.created ? path.relative(process.cwd(), startup.bootstrap.result.privatePath) : undefined,
    }),
  );
}

/** The `discovery` option (the secret file read, `discovery.secretFile` being the command's), or undefined when off. */
async function discoveryOption(config: LoadedConfig): Promise<ProxyDiscoveryConfig | undefined> {
  const section = getIn(config.values, 'discovery');
  if (!isTree(section)) return undefined;
  const { secretFile, ...options } = section as unknown as ProxyDiscoveryConfig & { secretFile?: string };
  if (secretFile === undefined) return options;
  return { ...options, secret: await readClusterSecretFile(secretFile) };
}

/**
 * Starts the proxy the configuration describes (one process; see `cluster/run-cluster.ts` for
 * `workers` > 1) and returns it running.
 *
 * @throws {TlsError}, {ListenError}, {TrustStoreError} with a message that names the file or port.
 */
export async function runProxy(config: LoadedConfig, options: RunProxyOptions): Promise<ProxyServer> {
  const startup = await prepareProxyStartup(config, options);
  const proxy = new ProxyServer({ ...startupProxyOptions(config, options, startup, 'single'), acme: startup.acme, ...(startup.discovery === undefined ? {} : { discovery: startup.discovery }) });
  await proxy.start();
  await logProxyRunning(config, options, await completeStartup(config, options, startup, proxy.trustStore), proxy);
  return proxy;
}
