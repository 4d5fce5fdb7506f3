/**
 * A self-signed certificate for development, made with `selfsigned`. It is written beside the configured
 * paths only when neither file exists, so a real certificate is never overwritten; the key file is mode
 * 0600. Production deployments point `PROXY_TLS_CERT`/`PROXY_TLS_KEY` at real files.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generate } from 'selfsigned';
import { TlsError } from '../errors.js';

/** Validity of a generated development certificate, in days. */
export const DEV_CERTIFICATE_VALIDITY_DAYS = 365;

/** A PEM certificate and its PEM private key. */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

/** Generates a self-signed EC P-256 pair valid for `localhost`, 127.0.0.1 and ::1 (plus `hosts`). */
export async function generateDevCertificate(hosts: readonly string[] = []): Promise<PemPair> {
  const names = ['localhost', ...hosts.filter((host) => !/^[\d.:]+$/.test(host))];
  const ips = ['127.0.0.1', '::1', ...hosts.filter((host) => /^[\d.:]+$/.test(host))];
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + DEV_CERTIFICATE_VALIDITY_DAYS * 86_400_000);
  const result = await generate([{ name: 'commonName', value: 'inteli-proxy development' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...[...new Set(names)].map((value) => ({ type: 2 as const, value })),
          ...[...new Set(ips)].map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  return { cert: result.cert, key: result.private };
}

/**
 * Makes sure a certificate pair exists at the given paths, generating a development pair when both are
 * absent. Returns true when it generated one.
 *
 * @throws {TlsError} when only one of the two files exists, or they cannot be written.
 */
export async function ensureDevCertificate(certPath: string, keyPath: string): Promise<boolean> {
  const hasCert = existsSync(certPath);
  const hasKey = existsSync(keyPath);
  if (hasCert && hasKey) return false;
  if (hasCert !== hasKey) {
    throw new TlsError(`found ${hasCert ? certPath : keyPath} but not ${hasCert ? keyPath : certPath}; supply both or neither`);
  }
  try {
    const pair = await generateDevCertificate();
    await mkdir(path.dirname(certPath), { recursive: true });
    await mkdir(path.dirname(keyPath), { recursive: true });
    await writeFile(keyPath, pair.key, { mode: 0o600, flag: 'wx' });
    await writeFile(certPath, pair.cert, { mode: 0o644, flag: 'wx' });
  } catch (error) {
    throw new TlsError(`could not write a development certificate to ${certPath}: ${(error as Error).message}`, { cause: error });
  }
  return true;
}
