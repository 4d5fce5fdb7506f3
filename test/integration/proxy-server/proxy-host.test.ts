/**
 * The promises of `ProxyHost` (issue 11): every part exists after `new`, so a bad option fails there
 * before anything is bound or written; `trustStore` is defined before `start()`; `start()` and `stop()`
 * are idempotent.
 */
import net from 'node:net';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ClusterPrimary } from '../../../src/proxy/cluster/cluster-primary.js';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { createMemoryTrustStore, FileTrustStore } from '../../../src/shared/trust/index.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'inteli-host-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A port that is free right now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves true when something accepts connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('ProxyHost construction', () => {
  it('a bad control.port throws RP_ERR_INVALID_OPTION at new, binds nothing and creates no certstore', async () => {
    const port = await freePort();
    const certstore = path.join(dir, 'never-created');
    expect(() => new ProxyServer({ host: '127.0.0.1', port, certstore, control: { host: '127.0.0.1', port: 70_000, insecure: true } })).toThrow(
      expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION', message: expect.stringContaining('port') }),
    );
    expect(await listening(port)).toBe(false);
    expect(await readdir(dir)).not.toContain('never-created');
  });

  it('a bad control.port throws at new for the cluster primary too, before any worker is forked', () => {
    expect(() => new ClusterPrimary({ workers: 1, host: '127.0.0.1', port: 0, control: { host: '127.0.0.1', port: -1, insecure: true } })).toThrow(
      expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION' }),
    );
  });

  it('defines trustStore, controlPlane and metrics right after new (the file store in certstore, not yet read)', () => {
    const certstore = path.join(dir, 'store');
    const proxy = new ProxyServer({ host: '127.0.0.1', port: 0, certstore, control: { host: '127.0.0.1', port: 0, insecure: true } });
    expect(proxy.trustStore).toBeInstanceOf(FileTrustStore);
    expect(proxy.trustStore?.kind).toBe('file');
    expect((proxy.trustStore as FileTrustStore).file).toBe(path.resolve(certstore, 'trust-store.json'));
    expect(proxy.controlPlane?.state).toBe('IDLE');
    expect(proxy.metrics).toBeDefined();
    expect(proxy.addresses).toEqual({ control: undefined, admin: undefined });
  });

  it('uses the given trust store object from new', () => {
    const store = createMemoryTrustStore();
    const proxy = new ProxyServer({ host: '127.0.0.1', port: 0, trustStore: store, control: false });
    expect(proxy.trustStore).toBe(store);
    expect(proxy.controlPlane).toBeUndefined();
  });
});

describe('ProxyHost lifecycle', () => {
  it('start() and stop() are idempotent, and start() after stop() rejects with RP_ERR_NOT_RUNNING', async () => {
    const proxy = new ProxyServer({ host: '127.0.0.1', port: 0, certstore: path.join(dir, 'lifecycle'), control: { host: '127.0.0.1', port: 0, insecure: true } });
    try {
      const first = proxy.start();
      expect(proxy.start()).toBe(first);
      const addresses = await first;
      expect(await proxy.start()).toBe(addresses);
      expect(addresses.control?.port).toBeGreaterThan(0);
      expect(proxy.ready).toBe(true);
    } finally {
      const stopped = proxy.stop();
      expect(proxy.ready).toBe(false);
      expect(proxy.stop()).toBe(stopped);
      await stopped;
    }
    await expect(proxy.stop()).resolves.toBeUndefined();
    await expect(proxy.start()).rejects.toMatchObject({ code: 'RP_ERR_NOT_RUNNING' });
    expect(proxy.controlPlane?.state).toBe('STOPPED');
    expect(proxy.dataPlane.state).toBe('stopped');
  });

  it('stop() before start() stops cleanly and binds nothing', async () => {
    const proxy = new ProxyServer({ host: '127.0.0.1', port: 0, trustStore: createMemoryTrustStore(), control: { host: '127.0.0.1', port: 0, insecure: true } });
    await proxy.stop();
    await proxy.stop();
    expect(proxy.addresses).toEqual({ control: undefined, admin: undefined });
    expect(proxy.dataPlane.state).toBe('stopped');
  });
});
