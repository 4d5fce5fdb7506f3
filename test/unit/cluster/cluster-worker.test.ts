import { describe, it, expect, afterEach } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { ClusterWorker, type WorkerChannel } from '../../../src/proxy/cluster/cluster-worker.js';
import type { WorkerMessage } from '../../../src/proxy/cluster/cluster-messages.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SELECTORS } from '../../../src/proxy/data-plane/selectors/index.js';
import type { Backend } from '../../../src/proxy/registry/backend.js';

/** An in-memory IPC channel: what the worker sends is recorded; `deliver` plays the primary. */
class FakeChannel extends EventEmitter implements WorkerChannel {
  readonly sent: WorkerMessage[] = [];
  send(message: WorkerMessage): void {
    this.sent.push(message);
    this.emit('sent', message);
  }
  deliver(message: unknown): void {
    this.emit('message', message);
  }
  next(type: WorkerMessage['type']): Promise<WorkerMessage> {
    const seen = this.sent.find((message) => message.type === type);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const listener = (message: WorkerMessage): void => {
        if (message.type !== type) return;
        this.off('sent', listener);
        resolve(message);
      };
      this.on('sent', listener);
    });
  }
}

const backend: Backend = {
  id: 'WEB#1',
  agentId: 'WEB',
  fingerprint: undefined,
  targets: [{ protocol: 'http', host: '127.0.0.1', port: 4000 }],
  rules: [{ path: '/api' }],
  weight: 1,
  state: 'ready',
  meta: {},
  registeredAt: 1,
};

const config = { host: '127.0.0.1', port: 0, tlsPort: 0, tls: undefined, trustedProxies: [], shutdownTimeoutMs: 1000, bodyTimeoutMs: 60_000, affinity: 'none', affinitySecret: 'ab'.repeat(32), reportIntervalMs: 0, logLevel: 'silent' };

let worker: ClusterWorker | undefined;
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
});

function logCapture(): { logger: ReturnType<typeof createLogger>; lines: () => string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  return { logger: createLogger({ level: 'warn', destination }), lines: () => lines };
}

describe('ClusterWorker', () => {
  it('says hello, then runs its data plane from the config and reports its port', async () => {
    const channel = new FakeChannel();
    worker = new ClusterWorker(channel, logCapture().logger, 1234);
    expect(channel.sent[0]).toEqual({ type: 'inteli.hello' });
    channel.deliver({ type: 'inteli.config', config });
    const listening = await channel.next('inteli.listening');
    expect(listening).toMatchObject({ type: 'inteli.listening', http: worker.dataPlane!.addresses.http!.port, https: undefined });
  });

  it('applies the snapshot and changes to its registry, and asks for a snapshot on a gap', async () => {
    const channel = new FakeChannel();
    worker = new ClusterWorker(channel, logCapture().logger, 1234);
    channel.deliver({ type: 'inteli.snapshot', version: 4, backends: [backend] });
    expect(worker.registry.get('WEB#1')).toEqual(backend);
    channel.deliver({ type: 'inteli.updated', version: 5, backend: { ...backend, state: 'draining' } });
    expect(worker.registry.get('WEB#1')?.state).toBe('draining');
    channel.deliver({ type: 'inteli.removed', version: 7, backendId: 'WEB#1', reason: 'left' });
    expect(channel.sent.at(-1)).toEqual({ type: 'inteli.resync', version: 7 });
    expect(worker.registry.size).toBe(1);
  });

  it('logs and ignores a malformed message from the primary without throwing', () => {
    const channel = new FakeChannel();
    const capture = logCapture();
    worker = new ClusterWorker(channel, capture.logger, 1234);
    expect(() => channel.deliver({ type: 'inteli.added', version: 1, backend: { ...backend, targets: 'x' } })).not.toThrow();
    expect(() => channel.deliver({ type: 'unrelated' })).not.toThrow();
    expect(worker.registry.size).toBe(0);
    expect(capture.lines()).toHaveLength(1);
    expect(capture.lines()[0]).toContain('malformed message from the primary');
  });

  it('answers idle queries and report requests', async () => {
    const channel = new FakeChannel();
    worker = new ClusterWorker(channel, logCapture().logger, 1234);
    channel.deliver({ type: 'inteli.config', config });
    await channel.next('inteli.listening');
    channel.deliver({ type: 'inteli.idle?', requestId: 3, backendId: 'WEB#1' });
    expect(await channel.next('inteli.idle')).toEqual({ type: 'inteli.idle', requestId: 3 });
    channel.deliver({ type: 'inteli.report?' });
    expect(await channel.next('inteli.report')).toMatchObject({ type: 'inteli.report', report: { pid: 1234, noRoute: 0, routesUnchanged: false, snapshot: { state: 'running' } } });
    // The same routes are not sent twice; a registry change sends them again.
    channel.deliver({ type: 'inteli.report?' });
    expect(channel.sent.at(-1)).toMatchObject({ type: 'inteli.report', report: { routesUnchanged: true, snapshot: { routes: [] } } });
    channel.deliver({ type: 'inteli.snapshot', version: 1, backends: [backend] });
    channel.deliver({ type: 'inteli.report?' });
    expect(channel.sent.at(-1)).toMatchObject({ type: 'inteli.report', report: { routesUnchanged: false, snapshot: { routes: [{ rule: '/api' }] } } });
  });

  it('stops its data plane on stop (idempotent)', async () => {
    const channel = new FakeChannel();
    worker = new ClusterWorker(channel, logCapture().logger, 1234);
    channel.deliver({ type: 'inteli.config', config });
    await channel.next('inteli.listening');
    channel.deliver({ type: 'inteli.stop' });
    const stopped = worker.stop();
    expect(worker.stop()).toBe(stopped);
    await stopped;
    expect(worker.dataPlane!.state).toBe('stopped');
  });

  it('runs its data plane with every option of the config (selector by name, timeouts, status)', async () => {
    const channel = new FakeChannel();
    worker = new ClusterWorker(channel, logCapture().logger, 1234);
    channel.deliver({ type: 'inteli.config', config: { ...config, settings: { selector: 'weighted', responseTimeoutMs: 1500, noTargetStatus: 404, accessLog: { query: true } } } });
    await channel.next('inteli.listening');
    expect(worker.dataPlane!.options).toMatchObject({ selector: SELECTORS.weighted, responseTimeoutMs: 1500, noTargetStatus: 404, accessLog: true, accessLogQuery: true });
  });

  it('applies a reload: new live options for new requests, and refuses a bad value without applying it', async () => {
    const channel = new FakeChannel();
    worker = new ClusterWorker(channel, logCapture().logger, 1234);
    channel.deliver({ type: 'inteli.config', config });
    await channel.next('inteli.listening');
    channel.deliver({ type: 'inteli.settings', dataPlane: { selector: 'least-in-flight', responseTimeoutMs: 900, trustedProxies: ['10.0.0.0/8'] }, logLevel: 'fatal' });
    expect(worker.dataPlane!.options).toMatchObject({ selector: SELECTORS['least-in-flight'], responseTimeoutMs: 900 });
    expect(worker.dataPlane!.options.trustedProxies.has('10.1.2.3')).toBe(true);
    channel.deliver({ type: 'inteli.settings', dataPlane: { responseTimeoutMs: -5 } });
    expect(worker.dataPlane!.options.responseTimeoutMs).toBe(900);
  });
});
