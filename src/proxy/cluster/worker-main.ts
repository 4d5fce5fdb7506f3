/**
 * Entry point of a cluster worker process (forked by the primary with `cluster.setupPrimary({ exec })`).
 * It waits for the primary's config over IPC, runs its data plane, and exits 0 after a graceful stop.
 */
import cluster from 'node:cluster';
import { createLogger } from '../../shared/logger.js';
import type { WorkerMessage } from './cluster-messages.js';
import { ClusterWorker } from './cluster-worker.js';

if (cluster.isWorker && typeof process.send === 'function') {
  const send = process.send.bind(process);
  const logger = createLogger({ level: 'info' }).child({ component: 'cluster-worker', worker: process.pid });
  const worker = new ClusterWorker(
    {
      send: (message: WorkerMessage) => {
        if (process.connected) send(message);
      },
      on: (event: 'message' | 'disconnect', listener: (message: unknown) => void) => process.on(event, listener),
    },
    logger,
  );
  const stop = (): void => {
    void worker.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('message', (message: unknown) => {
    if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'inteli.stop') stop();
  });
  process.on('disconnect', stop);
}
