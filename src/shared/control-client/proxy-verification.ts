/**
 * Turns a client's `pin` / `ca` / `insecure` options into one {@link ProxyVerification}, reading a CA
 * file when a path was given. Skipping verification is allowed only explicitly, and always logged.
 */
import { readFile } from 'node:fs/promises';
import { InvalidOptionError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ProxyVerification } from './proxy-tls.js';

/** The verification-related resolved options. */
export interface VerificationOptions {
  readonly proxyUrl: URL;
  readonly pins: readonly string[] | undefined;
  readonly ca: string | Buffer | undefined;
  readonly insecure: boolean;
}

/**
 * Resolves how the proxy will be verified.
 *
 * @throws {InvalidOptionError} when the CA file cannot be read.
 */
export async function resolveProxyVerification(options: VerificationOptions, logger: Logger): Promise<ProxyVerification> {
  const { pins, ca, insecure, proxyUrl } = options;
  if (insecure) {
    logger.warn(
      { proxyUrl: proxyUrl.origin },
      proxyUrl.protocol === 'ws:'
        ? 'INSECURE: plain ws, the token travels unencrypted (development only)'
        : 'INSECURE: the proxy certificate is not verified (development only)',
    );
    return { mode: 'insecure' };
  }
  if (pins !== undefined) return { mode: 'pin', pins };
  if (ca === undefined) return { mode: 'system' };
  if (Buffer.isBuffer(ca) || ca.includes('-----BEGIN')) return { mode: 'ca', ca };
  try {
    return { mode: 'ca', ca: await readFile(ca) };
  } catch (error) {
    throw new InvalidOptionError(`ca: cannot read ${ca}: ${(error as Error).message}`, { cause: error });
  }
}
