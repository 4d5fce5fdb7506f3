/**
 * What `npm start` / `inteli-proxy` does, as a function so it can be tested in-process: read the
 * validated environment, make sure a certificate exists (a development pair is generated into `tsl/`
 * when none is configured), bootstrap the first admin key on an empty trust store, then start a
 * `ProxyServer` with the data plane, HTTPS, the WSS control plane and the admin listener (health,
 * metrics, status page; loopback-only unless `PROXY_ADMIN_HOST` says otherwise, then token-protected).
 */
import { readFile } from 'node:fs/promises';
import type { Env } from '../shared/env.js';
import { TlsError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { ensureDevCertificate } from '../shared/tls/dev-certificate.js';
import { bootstrapAdminKey, DEFAULT_BOOTSTRAP_KEY_DIR } from './bootstrap-admin-key.js';
import { ProxyServer } from './proxy-server.js';

/** Options of {@link runProxy} beyond the environment. */
export interface RunProxyOptions {
  /** Root logger. */
  logger: Logger;
  /** Where the bootstrap admin key pair goes. Default `keys`. */
  keyDir?: string;
}

async function readPem(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new TlsError(`cannot read the TLS ${what} ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Starts the proxy described by `env` and returns it running.
 *
 * @throws {TlsError}, {ListenError}, {TrustStoreError} with a message that names the file or port.
 */
export async function runProxy(env: Env, options: RunProxyOptions): Promise<ProxyServer> {
  const logger = options.logger.child({ component: 'startup' });
  if (await ensureDevCertificate(env.tlsCert, env.tlsKey)) {
    logger.warn({ certFile: env.tlsCert, keyFile: env.tlsKey }, 'no certificate configured: generated a self-signed development pair');
  }
  const tls = { cert: await readPem(env.tlsCert, 'certificate'), key: await readPem(env.tlsKey, 'key') };
  const bootstrap = await bootstrapAdminKey(env.certstore, options.keyDir ?? DEFAULT_BOOTSTRAP_KEY_DIR, logger);
  const proxy = new ProxyServer({
    host: env.proxyHost,
    port: env.proxyPort,
    tlsPort: env.proxyTlsPort,
    tls,
    trustedProxies: env.trustedProxies,
    certstore: env.certstore,
    control: { host: env.wsHost, port: env.wsPort },
    admin: { host: env.adminHost, port: env.adminPort },
    logger: options.logger,
  });
  await proxy.start();
  const { http, https, control, admin } = proxy.addresses;
  logger.info(
    { http: http?.port, https: https?.port, control: control?.port, admin: admin === undefined ? undefined : `${admin.address}:${admin.port}`, pin: proxy.pin },
    'inteli-proxy is running; agents verify it with the pin (sha256 of the certificate public key)',
  );
  if (bootstrap.created) {
    logger.info(
      `manage keys with: inteli-sysadmin --proxy wss://localhost:${control?.port ?? env.wsPort} --id ${bootstrap.result.id} ` +
        `--key ${bootstrap.result.privatePath} --pin ${proxy.pin ?? '<pin>'} keys list`,
    );
  }
  return proxy;
}
