/**
 * Faults and churn under continuous load from a bounded load generator: agents join and leave (drain)
 * 100 times while a rule keeps one live target; the proxy restarts and every agent comes back without a
 * backend restart; `ProxyServer.stop()` under load answers every request it accepted. "Accepted" is
 * counted at the backends: every load request carries an id, and each id a backend saw must have been
 * answered at the client (a `stop()` that reset in-flight requests fails here, whatever the error the
 * client saw).
 */
import { describe, it, expect, afterEach } from '@jest/globals';
import { startCluster, type HostileCluster } from '../helpers/hostile-cluster.js';
import { startLoad } from '../helpers/hostile-load.js';
import { expectServing } from '../helpers/hostile-raw.js';
import { SOAK_FACTOR, note, useTally } from '../helpers/hostile-tally.js';
import { untilEvent } from '../helpers/wait-until.js';

useTally();

let cluster: HostileCluster | undefined;

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe('churn under load', () => {
  it('100 joins and drained leaves while requests flow: zero non-2xx, zero lost', async () => {
    cluster = await startCluster();
    const stable = await cluster.addKey('stable', ['/churn']);
    const churner = await cluster.addKey('churner', ['/churn']);
    await cluster.startAgent(stable, ['/churn'], {}, 2);
    const load = startLoad({ port: cluster.port, path: '/churn/x', budget: 20_000 * SOAK_FACTOR, concurrency: 6, deadlineMs: 40_000 * SOAK_FACTOR });
    for (let i = 0; i < 100 * SOAK_FACTOR; i += 1) {
      // Slow answers (5 ms) keep requests in flight at every drain.
      const agent = await cluster.startAgent(churner, ['/churn'], { drainTimeoutMs: 3000 }, 5);
      await agent.stop();
    }
    const result = await load.stop(cluster.loadIds);
    note(`churn: ${100 * SOAK_FACTOR} joins and drained leaves, ${result.sent} requests, ${result.non2xx} non-2xx, ${result.lost} lost (churner served ${cluster.hits.get('churner') ?? 0})`);
    expect({ non2xx: result.non2xx, lost: result.lost, refused: result.refused, errors: result.errors }).toEqual({ non2xx: 0, lost: 0, refused: 0, errors: [] });
    // Every request was forwarded: the backends saw as many ids as were answered.
    expect(cluster.loadIds.size).toBe(result.ok2xx);
    expect(result.ok2xx).toBeGreaterThan(100);
    // The churning agent really took part of the traffic between its joins and leaves.
    expect(cluster.hits.get('churner') ?? 0).toBeGreaterThan(0);
    expect(cluster.hits.get('stable') ?? 0).toBeGreaterThan(0);
    await expectServing(cluster.port, '/churn/x');
  }, 60_000 * SOAK_FACTOR);

  it('the proxy restarts on the same ports and trust store: agents reconnect and every route serves again', async () => {
    cluster = await startCluster();
    const rules = ['/r1', '/r2', '/r3'];
    for (const rule of rules) await cluster.startAgent(await cluster.addKey(`agent${rule.slice(1)}`, [rule]), [rule]);
    for (const rule of rules) await expectServing(cluster.port, `${rule}/x`);
    const targets = (): string[] => cluster!.proxy.registry.list().map((backend) => `${backend.agentId} ${backend.targets[0]?.port}`).sort();
    const before = targets();
    await cluster.restartProxy();
    const proxy = cluster.proxy;
    await untilEvent(proxy.registry, 'change', () => proxy.registry.list().length === rules.length, 10_000, 'the agents to register again');
    // The same backend servers (same ports) came back: no backend was restarted.
    expect(targets()).toEqual(before);
    for (const rule of rules) await expectServing(cluster.port, `${rule}/x`);
  }, 30_000);

  it('ProxyServer.stop() under load answers every request it accepted', async () => {
    cluster = await startCluster();
    // 30 ms answers: every client has a request in flight when the stop begins.
    await cluster.startAgent(await cluster.addKey('stopper', ['/stop']), ['/stop'], {}, 30);
    const load = startLoad({ port: cluster.port, path: '/stop/x', budget: 50_000, concurrency: 8, deadlineMs: 20_000 });
    await load.answered(200, 10_000, 'load to flow');
    // Stop while requests are held at the backend (the workers run in step, so right after an answer
    // the next requests may not have been sent yet).
    await untilEvent(cluster.backendEvents, 'request', () => cluster!.proxy.dataPlane.inFlight() >= 4, 10_000, 'requests in flight at the backend');
    load.stopping();
    const inFlightAtStop = cluster.proxy.dataPlane.inFlight();
    await cluster.proxy.stop();
    // The ids the backend saw are the requests the proxy accepted and forwarded: each must be answered.
    const accepted = new Set(cluster.loadIds);
    const result = await load.stop(accepted);
    note(`stop() under load: ${inFlightAtStop} in flight at the stop, ${accepted.size} requests forwarded, ${result.answered} answered (${result.statuses[503] ?? 0} of them 503 + close), ${result.refused + result.resetWhileStopping} refused, ${result.lost} lost (${result.acceptedUnanswered} forwarded but unanswered)`);
    // Requests were in flight when the stop began (30 ms answers, 8 clients), and every forwarded
    // request came back as the backend's 200 (503s are the proxy's own answers to unforwarded ones).
    expect(inFlightAtStop).toBeGreaterThan(0);
    expect(result.statuses[200] ?? 0).toBe(accepted.size);
    // A fresh connection reset while the listener closes was never read by the proxy (not accepted).
    expect(result.resetWhileStopping).toBeLessThanOrEqual(8);
    // Answers during the stop are 2xx or the documented 503 + Connection: close; none are lost.
    expect({ lost: result.lost, acceptedUnanswered: result.acceptedUnanswered, errors: result.errors }).toEqual({ lost: 0, acceptedUnanswered: 0, errors: [] });
    expect(Object.keys(result.statuses).filter((status) => status !== '200' && status !== '503')).toEqual([]);
    // The proxy is gone; a new one on the same ports serves again once the agent reconnected.
    await cluster.restartProxy();
    const proxy = cluster.proxy;
    await untilEvent(proxy.registry, 'change', () => proxy.registry.list().length === 1, 10_000, 'the agent to register again');
    await expectServing(cluster.port, '/stop/x');
  }, 40_000);
});
