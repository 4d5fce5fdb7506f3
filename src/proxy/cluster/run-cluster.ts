/**
 * `npm start` with `workers` > 1 (`PROXY_WORKERS`): the startup steps run once in the primary
 * (certificate, first admin key), then a {@link ClusterPrimary} starts the control plane, the admin
 * listener and the workers. The certificate reaches the workers over IPC only; nothing new is written to
 * disk.
 */
import { commandSettings } from '../config/config-options.js';
import type { LoadedConfig } from '../config/load-config.js';
import { completeStartup, logProxyRunning, prepareProxyStartup, startupProxyOptions, type RunProxyOptions } from '../run-proxy.js';
import { ClusterPrimary } from './cluster-primary.js';

/**
 * Starts the cluster the configuration describes and returns its primary running.
 *
 * @throws {TlsError}, {ListenError}, {TrustStoreError} with a message that names the file or port.
 */
export async function runCluster(config: LoadedConfig, options: RunProxyOptions): Promise<ClusterPrimary> {
  const startup = await prepareProxyStartup(config, options);
  const { workers, logLevel } = commandSettings(config.values);
  if (startup.acme !== undefined) {
    // The workers own the HTTPS listeners; certificates would have to reach them over IPC (not built yet).
    options.logger.warn('acme (PROXY_ACME_DIRECTORY_URL) is ignored with workers > 1: ACME runs in single-process mode only');
  }
  const primary = new ClusterPrimary({ ...startupProxyOptions(config, options, startup, 'cluster'), workers, logLevel, logFormat: options.logFormat ?? 'json' });
  await primary.start();
  await logProxyRunning(config, options, await completeStartup(config, options, startup, primary.trustStore), primary);
  return primary;
}
