import { describe, expect, it } from '@jest/globals';
import { networkInterfaces } from 'node:os';
import { ownListenerOf, type ListenerAddress } from '../../../src/proxy/control-plane/own-listeners.js';

const resolver = (table: Record<string, string[]>) => async (host: string): Promise<readonly string[]> => {
  const found = table[host];
  if (found === undefined) throw new Error('ENOTFOUND');
  return found;
};

describe('ownListenerOf (issue 14: the proxy\'s own listeners are never a target)', () => {
  const loopbackAdmin: ListenerAddress = { address: '127.0.0.1', port: 3090 };
  const wildcardData: ListenerAddress = { address: '0.0.0.0', port: 3080 };
  const wildcard6: ListenerAddress = { address: '::', port: 3443 };
  const listeners = [loopbackAdmin, wildcardData, wildcard6];
  const none = resolver({});

  it('fix-issue-14-own-listeners: finds a listener by any spelling of a local address', async () => {
    for (const host of ['127.0.0.1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST.', 'admin.localhost', '0.0.0.0', '::']) {
      expect({ host, hit: await ownListenerOf({ host, port: 3090 }, listeners, none) }).toEqual({ host, hit: loopbackAdmin });
    }
    expect(await ownListenerOf({ host: '127.0.0.2', port: 3090 }, listeners, none)).toBeUndefined();
    expect(await ownListenerOf({ host: '127.0.0.2', port: 3080 }, listeners, none)).toEqual(wildcardData);
    expect(await ownListenerOf({ host: '::1', port: 3443 }, listeners, none)).toEqual(wildcard6);
  });

  it('reaches a wildcard listener through an interface address, and resolves names', async () => {
    const external = Object.values(networkInterfaces()).flat().find((entry) => entry !== undefined && !entry.internal && entry.family === 'IPv4');
    if (external !== undefined) expect(await ownListenerOf({ host: external.address, port: 3080 }, listeners, none)).toEqual(wildcardData);
    const lookup = resolver({ 'rebind.example': ['127.0.0.1'], 'far.example': ['203.0.113.9'] });
    expect(await ownListenerOf({ host: 'rebind.example', port: 3090 }, listeners, lookup)).toEqual(loopbackAdmin);
    expect(await ownListenerOf({ host: 'far.example', port: 3080 }, listeners, lookup)).toBeUndefined();
    expect(await ownListenerOf({ host: 'unknown.example', port: 3080 }, listeners, lookup)).toBeUndefined();
  });

  it('ignores other ports and other addresses', async () => {
    expect(await ownListenerOf({ host: '127.0.0.1', port: 8080 }, listeners, none)).toBeUndefined();
    expect(await ownListenerOf({ host: '203.0.113.9', port: 3090 }, listeners, none)).toBeUndefined();
    expect(await ownListenerOf({ host: '127.0.0.1', port: 3090 }, [], none)).toBeUndefined();
  });
});
