/**
 * Debian's `pebble` (a small ACME server) for the ACME tests: started on loopback with a temporary config,
 * its own HTTPS certificate (generated here; the tests trust it only for themselves), no artificial
 * sleeps and no rejected nonces. `httpPort` is the port its HTTP-01 validation dials (the proxy's HTTP
 * listener), `dnsPort` the resolver it asks (see `dns-responder.ts`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type PemPair, generateDevCertificate } from '../../src/shared/tls/dev-certificate.js';

/** Where pebble lives (Debian package `pebble`). */
export const PEBBLE_BIN = '/usr/bin/pebble';

/**
 * True when pebble is installed. Without it the ACME tests skip and say so, except under CI (`CI=true`),
 * where `.ci/run` installs it: there a missing pebble fails every ACME test file instead of a silent skip.
 */
export const HAS_PEBBLE = existsSync(PEBBLE_BIN);
if (!HAS_PEBBLE) {
  if (process.env.CI === 'true') throw new Error(`${PEBBLE_BIN} is absent under CI=true: install Debian's pebble (.ci/run does)`);
  console.warn(`${PEBBLE_BIN} is absent (Debian package pebble): the ACME tests are skipped`);
}

/** A running pebble. */
export interface Pebble {
  readonly directoryUrl: string;
  /** PEM of the certificate pebble's own HTTPS listener uses (trust it for the ACME client). */
  readonly serverCa: string;
  /** PEM of pebble's issuing root (random per run), to verify the certificates it issued. */
  root(): Promise<string>;
  stop(): Promise<void>;
}

/** Options of {@link startPebble}. */
export interface PebbleOptions {
  readonly httpPort: number;
  readonly dnsPort: number;
  /** Port of the ACME listener; default a free one. */
  readonly port?: number;
  /** Accept every challenge without dialing (PEBBLE_VA_ALWAYS_VALID). Default false. */
  readonly alwaysValid?: boolean;
  /** Certificate and key of pebble's HTTPS listener; default a new pair (see {@link pebbleServerPair}). */
  readonly serverPair?: PemPair;
}

/** A certificate pair for pebble's own listener, made before pebble when a client must trust it first. */
export function pebbleServerPair(): Promise<PemPair> {
  return generateDevCertificate();
}

/** A port free on 127.0.0.1 right now (pebble takes a fixed port, not 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function get(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Starts pebble and resolves once its ACME directory is listening. */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pebble-'));
  const pair = options.serverPair ?? (await generateDevCertificate());
  const port = options.port ?? (await freePort());
  const managementPort = await freePort();
  await writeFile(path.join(dir, 'cert.pem'), pair.cert);
  await writeFile(path.join(dir, 'key.pem'), pair.key, { mode: 0o600 });
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${port}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: path.join(dir, 'cert.pem'),
      privateKey: path.join(dir, 'key.pem'),
      httpPort: options.httpPort,
      tlsPort: options.httpPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  };
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
  const env = { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0', ...(options.alwaysValid === true ? { PEBBLE_VA_ALWAYS_VALID: '1' } : {}) };
  const child: ChildProcess = spawn(PEBBLE_BIN, ['-config', path.join(dir, 'config.json'), '-dnsserver', `127.0.0.1:${options.dnsPort}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('ACME directory available')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`pebble exited with ${code}: ${output.slice(-2000)}`)));
    child.once('error', reject);
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await ready;
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    directoryUrl: `https://127.0.0.1:${port}/dir`,
    serverCa: pair.cert,
    root: () => get(`https://127.0.0.1:${managementPort}/roots/0`, pair.cert),
    stop,
  };
}
