/**
 * ControlPlane lifecycle: idempotent start/stop with explicit states, the pin logged at start, the
 * insecure development mode (plain ws, with a warning), and a clear error when the port is taken.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ControlPlane } from '../../../src/proxy/control-plane/control-plane.js';
import { TrustStore } from '../../../src/shared/trust/index.js';
import { BackendRegistry } from '../../../src/proxy/registry/backend-registry.js';
import { generateKeyPair } from '../../../src/shared/identity/key-pair.js';
import { signToken } from '../../../src/shared/identity/sign-token.js';
import { createLogger } from '../../../src/shared/logger.js';
import { dial } from '../../helpers/control-plane-client.js';
import { registerFrame, testCertificate } from '../../helpers/control-plane-fixture.js';

function capture(): { lines: () => Array<Record<string, unknown>>; destination: Writable } {
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      raw.push(chunk.toString());
      callback();
    },
  });
  return { lines: () => raw.join('').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>), destination };
}

describe('ControlPlane lifecycle', () => {
  const started: ControlPlane[] = [];

  afterEach(async () => {
    await Promise.all(started.splice(0).map((controlPlane) => controlPlane.stop()));
  });

  it('moves IDLE -> STARTING -> RUNNING -> STOPPING -> STOPPED; start and stop are idempotent', async () => {
    const controlPlane = new ControlPlane({ registry: new BackendRegistry(), trustStore: TrustStore.inMemory(), host: '127.0.0.1', port: 0, tls: await testCertificate() });
    started.push(controlPlane);
    expect(controlPlane.state).toBe('IDLE');
    const starting = controlPlane.start();
    expect(controlPlane.start()).toBe(starting);
    expect(controlPlane.state).toBe('STARTING');
    await starting;
    expect(controlPlane.state).toBe('RUNNING');
    expect(controlPlane.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    const stopping = controlPlane.stop();
    expect(controlPlane.stop()).toBe(stopping);
    expect(controlPlane.state).toBe('STOPPING');
    await stopping;
    expect(controlPlane.state).toBe('STOPPED');
    expect(() => controlPlane.address).toThrow(expect.objectContaining({ code: 'RP_ERR_NOT_RUNNING' }));
  });

  it('logs its public-key pin at start and emits listening', async () => {
    const { lines, destination } = capture();
    const controlPlane = new ControlPlane({
      registry: new BackendRegistry(),
      trustStore: TrustStore.inMemory(),
      host: '127.0.0.1',
      port: 0,
      tls: await testCertificate(),
      logger: createLogger({ destination }),
    });
    started.push(controlPlane);
    const listening = new Promise((resolve) => controlPlane.once('listening', resolve));
    await controlPlane.start();
    expect(await listening).toMatchObject({ port: controlPlane.address.port });
    expect(lines().some((line) => line.pin === controlPlane.pin && line.component === 'control-plane')).toBe(true);
  });

  it('serves plain ws only with insecure: true, and warns about it', async () => {
    const { lines, destination } = capture();
    const trustStore = TrustStore.inMemory();
    const registry = new BackendRegistry();
    const controlPlane = new ControlPlane({ registry, trustStore, host: '127.0.0.1', port: 0, insecure: true, logger: createLogger({ destination }) });
    started.push(controlPlane);
    await controlPlane.start();
    expect(controlPlane.url).toMatch(/^ws:\/\//);
    expect(controlPlane.pin).toBeUndefined();
    expect(lines().some((line) => line.level === 40 && String(line.msg).includes('WITHOUT TLS'))).toBe(true);
    const { privateJwk, publicJwk } = await generateKeyPair('PLAIN');
    await trustStore.add({ id: 'PLAIN', publicKey: publicJwk, scope: { rules: ['/p'], hosts: ['127.0.0.1'] } });
    const client = await dial(controlPlane.url, { token: await signToken(privateJwk, { subject: 'PLAIN', audience: 'inteli-proxy' }) });
    expect(await client.request(registerFrame(['/p']))).toMatchObject({ type: 'ack' });
    await client.close();
  });

  it('rejects start with RP_ERR_LISTEN naming the address when the port is taken', async () => {
    const tls = await testCertificate();
    const first = new ControlPlane({ registry: new BackendRegistry(), trustStore: TrustStore.inMemory(), host: '127.0.0.1', port: 0, tls });
    started.push(first);
    await first.start();
    const port = first.address.port;
    const second = new ControlPlane({ registry: new BackendRegistry(), trustStore: TrustStore.inMemory(), host: '127.0.0.1', port, tls });
    started.push(second);
    await expect(second.start()).rejects.toMatchObject({ code: 'RP_ERR_LISTEN', message: expect.stringContaining(`127.0.0.1:${port}`) });
    expect(second.state).toBe('STOPPED');
    await second.stop();
  });

  it('can be stopped before it was started', async () => {
    const controlPlane = new ControlPlane({ registry: new BackendRegistry(), trustStore: TrustStore.inMemory(), insecure: true });
    await controlPlane.stop();
    expect(controlPlane.state).toBe('STOPPED');
    await expect(controlPlane.start()).rejects.toMatchObject({ code: 'RP_ERR_NOT_RUNNING' });
  });
});
