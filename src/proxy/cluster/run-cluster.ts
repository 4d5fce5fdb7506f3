/**
 * `npm start` with `PROXY_WORKERS` > 1: the startup steps run once in the primary (certificate, first
 * admin key), then a {@link ClusterPrimary} starts the control plane, the admin listener and the workers.
 * The certificate reaches the workers over IPC only; nothing new is written to disk.
 */
import type { Env } from '../../shared/env.js';
import { completeStartup, logProxyRunning, prepareProxyStartup, startupProxyOptions, type RunProxyOptions } from '../run-proxy.js';
import { ClusterPrimary } from './cluster-primary.js';

/**
 * Starts the cluster described by `env` and returns its primary running.
 *
 * @throws {TlsError}, {ListenError}, {TrustStoreError} with a message that names the file or port.
 */
export async function runCluster(env: Env, options: RunProxyOptions): Promise<ClusterPrimary> {
  const startup = await prepareProxyStartup(env, options);
  const primary = new ClusterPrimary({ ...startupProxyOptions(env, options, startup), workers: env.workers, logLevel: env.logLevel, logFormat: options.logFormat ?? 'json' });
  await primary.start();
  await logProxyRunning(env, options, await completeStartup(env, options, startup, primary.trustStore), primary);
  return primary;
}
