/**
 * `whenRouted`: the `register` ack waits until every data plane routes to the new backend (cluster
 * workers in other processes), so an agent's `start()` never resolves while a request could get 403.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { registerFrame, startControlPlane, type ControlPlaneFixture } from '../../helpers/control-plane-fixture.js';

describe('control plane whenRouted', () => {
  let fixture: ControlPlaneFixture;
  let routed: { backendId: string; release: () => void; fail: (error: Error) => void } | undefined;
  let onRouted: (() => void) | undefined;

  beforeAll(async () => {
    fixture = await startControlPlane({
      whenRouted: (backendId) =>
        new Promise<void>((resolve, reject) => {
          routed = { backendId, release: resolve, fail: reject };
          onRouted?.();
        }),
    });
  });

  afterAll(async () => {
    await fixture.close();
  });

  async function pendingRegistration(id: string): Promise<{ reply: Promise<unknown>; acked: () => boolean; roundTrip: () => Promise<unknown> }> {
    const key = await fixture.addKey(id, { scope: { rules: ['/api'] } });
    const client = await fixture.connect(key);
    const called = new Promise<void>((resolve) => (onRouted = resolve));
    let acked = false;
    const reply = client.request(registerFrame(['/api'])).then((frame) => {
      acked = true;
      return frame;
    });
    await called;
    // The pong to a ping sent now travels behind any ack already written on the same connection (the
    // session handles frames one at a time, so a request frame could not overtake it; a ping can):
    // once the pong is here, an ack that did not wait for whenRouted would be here too.
    const roundTrip = (): Promise<unknown> =>
      new Promise((resolve) => {
        client.ws.once('pong', () => resolve({ type: 'pong' }));
        client.ws.ping();
      });
    return { reply, acked: () => acked, roundTrip };
  }

  it('acknowledges a registration only once whenRouted resolved', async () => {
    const { reply, acked, roundTrip } = await pendingRegistration('ROUTED1');
    expect(fixture.registry.get(routed!.backendId)).toBeDefined();
    expect(await roundTrip()).toEqual({ type: 'pong' });
    expect(acked()).toBe(false);
    routed!.release();
    expect(await reply).toMatchObject({ type: 'ack', result: { backendId: routed!.backendId } });
  });

  it('still acknowledges when whenRouted fails (the registry stays the authority)', async () => {
    const { reply } = await pendingRegistration('ROUTED2');
    routed!.fail(new Error('a worker went away'));
    expect(await reply).toMatchObject({ type: 'ack' });
  });
});
