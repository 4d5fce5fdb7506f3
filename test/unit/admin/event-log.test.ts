import { describe, it, expect } from '@jest/globals';
import { EventLog } from '../../../src/proxy/admin/event-log.js';

describe('EventLog', () => {
  it('lists events newest first with increasing seq and ISO times', () => {
    let now = Date.UTC(2026, 0, 1);
    const log = new EventLog(10, () => now);
    log.add({ type: 'backend_added', agentId: 'a' });
    now += 1000;
    log.add({ type: 'backend_removed', agentId: 'a', reason: 'left' });
    const events = log.list();
    expect(events.map((event) => event.seq)).toEqual([2, 1]);
    expect(events[0]).toMatchObject({ type: 'backend_removed', reason: 'left', time: '2026-01-01T00:00:01.000Z' });
    expect(Object.isFrozen(events[0])).toBe(true);
  });

  it('keeps only the last `capacity` events', () => {
    const log = new EventLog(3);
    for (let i = 1; i <= 7; i += 1) log.add({ type: 'auth_failure', count: i });
    expect(log.list().map((event) => event.count)).toEqual([7, 6, 5]);
    log.add({ type: 'auth_failure', count: 8 });
    expect(log.list().map((event) => event.count)).toEqual([8, 7, 6]);
  });
});
