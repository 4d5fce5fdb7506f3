/**
 * What `npm start` / `inteli-proxy` does, as a function so it can be tested in-process: read the
 * validated environment, make sure a certificate exists (a development pair is generated into `tsl/`
 * when none is configured), bootstrap the first admin key on an empty trust store, then start a
 * `ProxyServer` with the data plane, HTTPS, the WSS control plane and the admin listener (health, metrics,
 * status page; loopback-only unless `PROXY_ADMIN_HOST` says otherwise, then token-protected). With
 * `PROXY_WORKERS` > 1 the same startup steps feed a cluster primary instead (`cluster/run-cluster.ts`).
 */
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ClusterSecretEnv, Env } from '../shared/env.js';
import { readClusterSecretFile } from '../shared/discovery/cluster-secret.js';
import type { ProxyDiscoveryConfig } from './proxy-discovery-config.js';
import { TlsError } from '../shared/errors.js';
import { localControlUrl, writeLocalProxyRecord } from '../shared/local-proxy-record.js';
import type { Logger } from '../shared/logger.js';
import { DEFAULT_ADMIN_ID } from '../shared/trust/init-admin.js';
import { ensureDevCertificate } from '../shared/tls/dev-certificate.js';
import { bootstrapAdminKey, bootstrapFleetAdminKey, type BootstrapOutcome, DEFAULT_BOOTSTRAP_KEY_DIR } from './bootstrap-admin-key.js';
import type { TrustStore } from '../shared/trust/trust-store.js';
import type { AcmeOptions } from './acme/acme-options.js';
import type { ProxyServerOptions } from './proxy-options.js';
import { type ProxyAddresses, ProxyServer } from './proxy-server.js';
import { formatStartupBanner } from './startup-banner.js';

/** Options of {@link runProxy} beyond the environment. */
export interface RunProxyOptions {
  /** Root logger. */
  logger: Logger;
  /** Where the bootstrap admin key pair goes, and the record the sysadmin CLI reads (`proxy.json`). Default `keys`. */
  keyDir?: string;
  /** Receives the human start banner (a terminal's stdout); without it, only the JSON log line is written. */
  banner?: (text: string) => void;
  /** Format of the cluster workers' log lines, as the root logger's. Default `json`. */
  logFormat?: 'json' | 'pretty';
  /** LAN discovery's cluster secret (`PROXY_CLUSTER_SECRET[_FILE]`); absent keeps discovery off. */
  clusterSecret?: ClusterSecretEnv;
}

async function readPem(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new TlsError(`cannot read the TLS ${what} ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** What every start does once, before any listener: the certificate and the first admin key. */
export interface ProxyStartup {
  /** The certificate and key (PEM) of HTTPS and of the control plane. */
  readonly tls: { readonly cert: Buffer; readonly key: Buffer };
  /** The bootstrap admin key, when this start created it. */
  readonly bootstrap: BootstrapOutcome;
  /** ACME options from `PROXY_ACME_*`, when a directory URL is set. */
  readonly acme?: AcmeOptions | undefined;
}

/**
 * Makes sure a certificate exists (a development pair is generated when none is configured), reads it,
 * and bootstraps the first admin key on an empty trust store. In cluster mode the primary runs this once.
 *
 * @throws {TlsError} naming the unreadable file.
 */
export async function prepareProxyStartup(env: Env, options: RunProxyOptions): Promise<ProxyStartup> {
  const logger = options.logger.child({ component: 'startup' });
  if (await ensureDevCertificate(env.tlsCert, env.tlsKey)) {
    logger.warn({ certFile: env.tlsCert, keyFile: env.tlsKey }, 'no certificate configured: generated a self-signed development pair');
  }
  const tls = { cert: await readPem(env.tlsCert, 'certificate'), key: await readPem(env.tlsKey, 'key') };
  // A fleet's store is in Redis: it is bootstrapped once the proxy has loaded it (completeStartup).
  const bootstrap: BootstrapOutcome =
    env.redisUrl === undefined ? await bootstrapAdminKey(env.certstore, options.keyDir ?? DEFAULT_BOOTSTRAP_KEY_DIR, logger) : { created: false, reason: 'fleet' };
  if (env.acmeDirectoryUrl === undefined) return { tls, bootstrap };
  const caCertificates = env.acmeCa === undefined ? undefined : await readPem(env.acmeCa, 'ACME CA certificate');
  return { tls, bootstrap, acme: { directoryUrl: env.acmeDirectoryUrl, email: env.acmeEmail, caCertificates } };
}

/** After start, in a fleet: bootstraps the first admin key in the shared store when it is empty. */
export async function completeStartup(env: Env, options: RunProxyOptions, startup: ProxyStartup, trustStore: TrustStore | undefined): Promise<ProxyStartup> {
  if (env.redisUrl === undefined || trustStore === undefined) return startup;
  const bootstrap = await bootstrapFleetAdminKey(trustStore, options.keyDir ?? DEFAULT_BOOTSTRAP_KEY_DIR, options.logger.child({ component: 'startup' }));
  return { ...startup, bootstrap };
}

/**
 * The options `npm start` gives the proxy, single-process or cluster primary alike: the listeners from
 * the environment, the startup's certificate, the file trust store, the control plane and the admin listener.
 */
export function startupProxyOptions(
  env: Env,
  options: RunProxyOptions,
  startup: ProxyStartup,
): Required<Pick<ProxyServerOptions, 'host' | 'port' | 'tlsPort' | 'tls' | 'trustedProxies' | 'certstore' | 'control' | 'admin' | 'logger' | 'bodyTimeoutMs' | 'affinity'>> &
  Pick<ProxyServerOptions, 'affinityHeader' | 'trustStore'> {
  return {
    ...(env.redisUrl === undefined
      ? {}
      : {
          trustStore: {
            redis: {
              url: env.redisUrl,
              prefix: env.redisPrefix,
              trustMaxStalenessMs: env.trustMaxStalenessMs,
              ...(env.nodeId === undefined ? {} : { nodeId: env.nodeId }),
            },
          },
        }),
    host: env.proxyHost,
    port: env.proxyPort,
    tlsPort: env.proxyTlsPort,
    tls: startup.tls,
    trustedProxies: env.trustedProxies,
    bodyTimeoutMs: env.bodyTimeoutMs,
    affinity: env.affinity,
    ...(env.affinityHeader === undefined ? {} : { affinityHeader: env.affinityHeader }),
    certstore: env.certstore,
    control: { host: env.wsHost, port: env.wsPort },
    admin: { host: env.adminHost, port: env.adminPort },
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
 * `inteli-sysadmin` on this machine needs no flags), logs where it listens, and prints the banner when
 * `options.banner` is given. A record that cannot be written is a warning, not a failed start.
 */
export async function logProxyRunning(env: Env, options: RunProxyOptions, startup: ProxyStartup, proxy: { readonly addresses: ProxyAddresses; readonly pin: string | undefined }): Promise<void> {
  const logger = options.logger.child({ component: 'startup' });
  const { http, https, control, admin } = proxy.addresses;
  const keyDir = options.keyDir ?? DEFAULT_BOOTSTRAP_KEY_DIR;
  let recordFile: string | undefined;
  if (control !== undefined && proxy.pin !== undefined) {
    try {
      recordFile = await writeLocalProxyRecord(keyDir, { proxyUrl: localControlUrl(env.wsHost, control.port), pin: proxy.pin });
    } catch (error) {
      logger.warn({ keyDir: path.resolve(keyDir), err: (error as Error).message }, 'could not record the control URL and pin for inteli-sysadmin; it will need --proxy and --pin');
    }
  }
  logger.info(
    { http: http?.port, https: https?.port, control: control?.port, admin: admin === undefined ? undefined : `${admin.address}:${admin.port}`, pin: proxy.pin, workers: env.workers, record: recordFile },
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
      workers: env.workers,
      recordFile: recordFile === undefined ? undefined : path.relative(process.cwd(), recordFile),
      sysadminCommand,
      createdAdminKey: startup.bootstrap.created ? path.relative(process.cwd(), startup.bootstrap.result.privatePath) : undefined,
    }),
  );
}

/** The `discovery` option from the cluster secret variables, or undefined when none is set. */
async function clusterDiscovery(cluster: ClusterSecretEnv | undefined): Promise<ProxyDiscoveryConfig | undefined> {
  if (cluster?.secret !== undefined) return { secret: cluster.secret };
  if (cluster?.secretFile !== undefined) return { secret: await readClusterSecretFile(cluster.secretFile) };
  return undefined;
}

/**
 * Starts the proxy described by `env` (one process; see `cluster/run-cluster.ts` for `PROXY_WORKERS` > 1)
 * and returns it running.
 *
 * @throws {TlsError}, {ListenError}, {TrustStoreError} with a message that names the file or port.
 */
export async function runProxy(env: Env, options: RunProxyOptions): Promise<ProxyServer> {
  const startup = await prepareProxyStartup(env, options);
  const discovery = await clusterDiscovery(options.clusterSecret);
  const proxy = new ProxyServer({ ...startupProxyOptions(env, options, startup), acme: startup.acme, ...(discovery === undefined ? {} : { discovery }) });
  await proxy.start();
  await logProxyRunning(env, options, await completeStartup(env, options, startup, proxy.trustStore), proxy);
  return proxy;
}
