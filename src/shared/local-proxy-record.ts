/**
 * The local proxy record: what `npm start` writes beside the admin key (`keys/proxy.json`) so that
 * `inteli-sysadmin` on the same machine needs no flags. It holds the control-plane URL and the pin of the
 * proxy's certificate public key: both public (the proxy logs them at every start), never key material.
 * The proxy rewrites it at every start, since the pin changes with the certificate and the port with the
 * configuration; the CLI reads it only for what flags and environment leave unset.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { normalizePin } from './control-client/proxy-tls.js';
import { InvalidOptionError } from './errors.js';
import { writeFileAtomic } from './fs/write-file-atomic.js';

/** File name of the record, in the admin key's directory. */
export const LOCAL_PROXY_FILE = 'proxy.json';

/** Longest record file read, in bytes: a record is a few hundred bytes; more is not a record. */
const MAX_RECORD_BYTES = 16 * 1024;

/** What the record holds. */
export interface LocalProxyRecord {
  /** Control-plane URL reachable from this machine (`wss://127.0.0.1:3042`). */
  readonly proxyUrl: string;
  /** Base64 SHA-256 pin of the control plane's certificate public key. */
  readonly pin: string;
  /** ISO 8601 time the proxy wrote the record. */
  readonly writtenAt: string;
}

/**
 * The control-plane URL a local client dials for a listener bound to `host`: a wildcard address is
 * reached over loopback, an IPv6 literal needs brackets.
 */
export function localControlUrl(host: string, port: number): string {
  let dial = host;
  if (host === '0.0.0.0' || host === '') dial = '127.0.0.1';
  else if (host === '::' || host === '[::]') dial = '[::1]';
  else if (host.includes(':') && !host.startsWith('[')) dial = `[${host}]`;
  return `wss://${dial}:${port}`;
}

/**
 * Writes the record into `dir` (created with mode 0700 when missing) atomically: a concurrent reader sees
 * the old record or the new one, never half of one.
 *
 * @returns the path of the record.
 */
export async function writeLocalProxyRecord(dir: string, record: Omit<LocalProxyRecord, 'writtenAt'>): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, LOCAL_PROXY_FILE);
  const content: LocalProxyRecord = { proxyUrl: record.proxyUrl, pin: record.pin, writtenAt: new Date().toISOString() };
  // Nothing secret in it (a URL and a public-key pin): readable by the operators who run the CLI.
  await writeFileAtomic(file, `${JSON.stringify(content, null, 2)}\n`, 0o644);
  return file;
}

function invalid(file: string, reason: string): InvalidOptionError {
  return new InvalidOptionError(`${file}: ${reason}; fix or delete it, or pass --proxy and --pin`);
}

/**
 * Reads the record in `dir`; undefined when there is none.
 *
 * @throws {InvalidOptionError} naming the file when it exists but is not a valid record.
 */
export function readLocalProxyRecord(dir: string): LocalProxyRecord | undefined {
  const file = path.join(dir, LOCAL_PROXY_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw invalid(file, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (text.length > MAX_RECORD_BYTES) throw invalid(file, 'is too large to be a proxy record');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(file, 'is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(file, 'expected an object');
  const record = value as Record<string, unknown>;
  let protocol: string | undefined;
  try {
    protocol = typeof record.proxyUrl === 'string' ? new URL(record.proxyUrl).protocol : undefined;
  } catch {
    protocol = undefined;
  }
  if (protocol !== 'wss:') throw invalid(file, 'proxyUrl: expected a wss:// URL');
  const pin = normalizePin(record.pin);
  if (pin === undefined) throw invalid(file, 'pin: expected a base64 SHA-256 public-key pin');
  return Object.freeze({ proxyUrl: record.proxyUrl as string, pin, writtenAt: typeof record.writtenAt === 'string' ? record.writtenAt : '' });
}
