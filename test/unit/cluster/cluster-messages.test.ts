import { describe, it, expect } from '@jest/globals';
import { isBackend, isOurs, isPrimaryMessage, isWorkerMessage } from '../../../src/proxy/cluster/cluster-messages.js';
import { isWorkerReport, type WorkerReport } from '../../../src/proxy/cluster/worker-report.js';

const backend = {
  id: 'WEB#1',
  agentId: 'WEB',
  fingerprint: 'abc',
  targets: [{ protocol: 'http', host: '127.0.0.1', port: 4000 }],
  rules: [{ path: '/api' }],
  weight: 1,
  state: 'ready',
  meta: { zone: 'a' },
  registeredAt: 1,
};

const report: WorkerReport = {
  pid: 42,
  routesUnchanged: false,
  noRoute: 1,
  noTarget: 2,
  bytesIn: 10,
  bytesOut: 20,
  ejections: [['WEB', 1]],
  pairs: [{ rule: '/api', agentId: 'WEB', responses: [0, 0, 3, 0, 0, 0, 0], latencyBuckets: new Array<number>(12).fill(0), latencySumSeconds: 0.5, retries: 0 }],
  snapshot: {
    state: 'running',
    inFlight: 0,
    tunnels: 0,
    routes: [
      {
        rule: '/api',
        path: '/api',
        host: undefined,
        upstreams: [
          { key: 'WEB#1|http://127.0.0.1:4000', backendId: 'WEB#1', agentId: 'WEB', origin: 'http://127.0.0.1:4000', weight: 1, state: 'ready', inFlight: 0, consecutiveFailures: 0, ejectedUntil: undefined, lastError: undefined },
        ],
      },
    ],
  },
};

describe('cluster IPC guards', () => {
  it('accepts a backend record as the primary makes it', () => {
    expect(isBackend(backend)).toBe(true);
    expect(isBackend(JSON.parse(JSON.stringify(backend)))).toBe(true);
  });

  it.each([
    ['no id', { id: '' }],
    ['a port out of range', { targets: [{ protocol: 'http', host: 'h', port: 70000 }] }],
    ['a scheme other than http/https', { targets: [{ protocol: 'file', host: 'h', port: 1 }] }],
    ['no targets', { targets: [] }],
    ['a relative rule', { rules: [{ path: 'api' }] }],
    ['a weight of 0', { weight: 0 }],
    ['an unknown state', { state: 'gone' }],
    ['a non-string meta value', { meta: { a: 1 } }],
  ])('refuses a backend with %s', (_name, change) => {
    expect(isBackend({ ...backend, ...change })).toBe(false);
  });

  it('accepts every primary message type and refuses malformed ones', () => {
    expect(isPrimaryMessage({ type: 'inteli.snapshot', version: 3, backends: [backend] })).toBe(true);
    expect(isPrimaryMessage({ type: 'inteli.added', version: 4, backend })).toBe(true);
    expect(isPrimaryMessage({ type: 'inteli.updated', version: 5, backend: { ...backend, state: 'draining' } })).toBe(true);
    expect(isPrimaryMessage({ type: 'inteli.removed', version: 6, backendId: 'WEB#1', reason: 'drained' })).toBe(true);
    expect(isPrimaryMessage({ type: 'inteli.idle?', requestId: 1, backendId: 'WEB#1' })).toBe(true);
    expect(isPrimaryMessage({ type: 'inteli.stop' })).toBe(true);
    expect(isPrimaryMessage({ type: 'inteli.settings', dataPlane: { selector: 'weighted', responseTimeoutMs: 900, trustedProxies: ['10.0.0.0/8'] }, logLevel: 'debug' })).toBe(true);
    expect(isPrimaryMessage({ type: 'inteli.settings', dataPlane: { selector: () => undefined } })).toBe(false);
    expect(isPrimaryMessage({ type: 'inteli.settings', dataPlane: { trustedProxies: [1] } })).toBe(false);
    expect(isPrimaryMessage({ type: 'inteli.settings', dataPlane: {}, logLevel: 5 })).toBe(false);
    expect(isPrimaryMessage({ type: 'inteli.reserved', version: 7, rules: [{ path: '/api' }, { path: '/x', host: 'a.example' }] })).toBe(true);
    expect(isPrimaryMessage({ type: 'inteli.snapshot', version: 3, backends: [backend], reserved: [{ path: '/api' }] })).toBe(true);
    expect(isPrimaryMessage({ type: 'inteli.updated', version: 5, backend: { ...backend, state: 'unhealthy', affinity: 'hash', affinityHeader: 'x-user', bodyTimeoutMs: 0 } })).toBe(true);
    expect(isPrimaryMessage({ type: 'inteli.added', version: 5, backend: { ...backend, affinity: 'sticky' } })).toBe(false);
    expect(isPrimaryMessage({ type: 'inteli.added', version: 5, backend: { ...backend, affinity: 'hash', affinityHeader: 'Bad Header' } })).toBe(false);
    expect(isPrimaryMessage({ type: 'inteli.added', version: 5, backend: { ...backend, bodyTimeoutMs: -1 } })).toBe(false);
    expect(isPrimaryMessage({ type: 'inteli.reserved', version: 7, rules: [{ path: 'api' }] })).toBe(false);
    expect(isPrimaryMessage({ type: 'inteli.removed', version: 6, backendId: 'WEB#1', reason: 'because' })).toBe(false);
    expect(isPrimaryMessage({ type: 'inteli.added', version: -1, backend })).toBe(false);
    expect(isPrimaryMessage({ type: 'inteli.snapshot', version: 1, backends: [{ ...backend, weight: 'x' }] })).toBe(false);
    expect(isPrimaryMessage({ type: 'inteli.config', config: { host: '127.0.0.1', port: 0 } })).toBe(false);
    expect(isPrimaryMessage({ type: 'other' })).toBe(false);
    expect(isPrimaryMessage(null)).toBe(false);
    expect(isPrimaryMessage('inteli.stop')).toBe(false);
  });

  it('accepts a full worker config and refuses a bad port', () => {
    const config = { host: '127.0.0.1', port: 0, tlsPort: 0, tls: { cert: 'C', key: 'K' }, trustedProxies: [], shutdownTimeoutMs: 10, bodyTimeoutMs: 60_000, affinity: 'none', affinitySecret: 'ab'.repeat(32), reportIntervalMs: 1000, logLevel: 'info' };
    expect(isPrimaryMessage({ type: 'inteli.config', config })).toBe(true);
    expect(isPrimaryMessage({ type: 'inteli.config', config: { ...config, port: 65536 } })).toBe(false);
    expect(isPrimaryMessage({ type: 'inteli.config', config: { ...config, logFormat: 'pretty' } })).toBe(true);
    expect(isPrimaryMessage({ type: 'inteli.config', config: { ...config, logFormat: 'xml' } })).toBe(false);
  });

  it('accepts every worker message type and refuses malformed ones', () => {
    expect(isWorkerMessage({ type: 'inteli.hello' })).toBe(true);
    expect(isWorkerMessage({ type: 'inteli.listening', http: 3080, https: 3443 })).toBe(true);
    expect(isWorkerMessage({ type: 'inteli.listening', http: 3080 })).toBe(true);
    expect(isWorkerMessage({ type: 'inteli.resync', version: 2 })).toBe(true);
    expect(isWorkerMessage({ type: 'inteli.idle', requestId: 9 })).toBe(true);
    expect(isWorkerMessage({ type: 'inteli.report', report })).toBe(true);
    expect(isWorkerMessage({ type: 'inteli.failed', code: 'RP_ERR_LISTEN', message: 'address already in use' })).toBe(true);
    expect(isWorkerMessage({ type: 'inteli.failed', code: 'RP_ERR_LISTEN' })).toBe(false);
    expect(isWorkerMessage({ type: 'inteli.listening', http: 0 })).toBe(false);
    expect(isWorkerMessage({ type: 'inteli.idle', requestId: 1.5 })).toBe(false);
    expect(isWorkerMessage({ type: 'inteli.report', report: { ...report, noRoute: -1 } })).toBe(false);
    expect(isWorkerMessage({ type: 'inteli.report', report: { ...report, noTargetByRule: [['/api', 2]] } })).toBe(true);
    expect(isWorkerMessage({ type: 'inteli.report', report: { ...report, noTargetByRule: [['/api', -2]] } })).toBe(false);
  });

  it('validates reports down to the counters and routes', () => {
    expect(isWorkerReport(JSON.parse(JSON.stringify(report)))).toBe(true);
    expect(isWorkerReport({ ...report, pairs: [{ ...report.pairs[0], responses: [1, 2] }] })).toBe(false);
    expect(isWorkerReport({ ...report, snapshot: { ...report.snapshot, state: 'odd' } })).toBe(false);
    expect(isWorkerReport({ ...report, ejections: [['WEB']] })).toBe(false);
    expect(isWorkerReport({ ...report, routesUnchanged: 'no' })).toBe(false);
  });

  it('tells our malformed messages (worth a log line) from unrelated IPC traffic', () => {
    expect(isOurs({ type: 'inteli.added' })).toBe(true);
    expect(isOurs({ type: 'app.ping' })).toBe(false);
    expect(isOurs([1])).toBe(false);
  });
});
