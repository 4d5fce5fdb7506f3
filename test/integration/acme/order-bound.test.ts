/**
 * The on-demand bound: at most `maxPendingOrders` orders run at once, one per name; a handshake for a
 * further name gets the default certificate at once instead of queueing another order. The "CA" here
 * accepts connections and never answers, so orders stay pending until the manager stops.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SecureContext } from 'node:tls';
import { resolveAcmeOptions } from '../../../src/proxy/acme/acme-options.js';
import { CertificateManager } from '../../../src/proxy/acme/certificate-manager.js';
import { silentLogger } from '../../../src/shared/logger.js';

let silent: Server;
const sockets = new Set<Socket>();
let dir: string;
let manager: CertificateManager;
let accepted = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'acme-bound-'));
  silent = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as { port: number }).port;
  manager = new CertificateManager(resolveAcmeOptions({ directoryUrl: `https://127.0.0.1:${port}/dir`, maxPendingOrders: 2, handshakeWaitMs: 0, requestTimeoutMs: 30_000 }), {
    keys: () => [{ scope: { rules: ['a.example.test/', 'b.example.test/', 'c.example.test/'] } }],
    storageDir: dir,
    logger: silentLogger(),
  });
  await manager.start();
});

afterAll(async () => {
  await manager?.stop();
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

function sni(name: string): Promise<SecureContext | undefined> {
  return new Promise((resolve) => manager.sniCallback(name, (_error, context) => resolve(context)));
}

describe('on-demand order bound', () => {
  it('runs at most maxPendingOrders orders, one per name, and answers further names with the default at once', async () => {
    expect(await sni('a.example.test')).toBeUndefined();
    expect(await sni('a.example.test')).toBeUndefined();
    expect(await sni('b.example.test')).toBeUndefined();
    // Both orders wait on the silent CA (for the account, which they share; a name shares its order).
    await new Promise<void>((resolve) => {
      const check = (): void => (accepted >= 1 ? resolve() : void setTimeout(check, 10));
      check();
    });
    // A third name is not queued behind them: refused at once (this would hang if it waited on the CA).
    expect(await sni('c.example.test')).toBeUndefined();
    expect(await manager.obtain('c.example.test')).toBeUndefined();
    expect(accepted).toBe(1);
    expect(manager.stats.failed).toBe(0);
  });
});
