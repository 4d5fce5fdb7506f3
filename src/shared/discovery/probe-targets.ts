/**
 * The addresses a prober challenges: IPv4 addresses and CIDR blocks of at most 256 addresses (/24 to
 * /32), given as a list or one comma-separated string. A block's network and broadcast addresses are
 * skipped (except in /31 and /32, RFC 3021, where every address is a host). At most 256 targets in all, so
 * one round stays small and a typo cannot turn the prober into a scanner of a /8.
 */
import { isIPv4 } from 'node:net';
import { InvalidOptionError } from '../errors.js';

/** Most addresses one prober challenges per round. */
export const MAX_PROBE_TARGETS = 256;
/** Shortest CIDR prefix accepted. */
export const MIN_PROBE_PREFIX = 24;

function toNumber(address: string): number {
  return address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

function toAddress(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function expand(entry: string): string[] {
  const [address, prefixText, extra] = entry.split('/');
  if (address === undefined || !isIPv4(address) || extra !== undefined) {
    throw new InvalidOptionError(`probe: expected IPv4 addresses or CIDR blocks (/${MIN_PROBE_PREFIX} to /32), got ${JSON.stringify(entry.slice(0, 64))}`);
  }
  if (prefixText === undefined) return [address];
  const prefix = /^\d{1,2}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= MIN_PROBE_PREFIX && prefix <= 32)) {
    throw new InvalidOptionError(`probe: a CIDR block is at most /${MIN_PROBE_PREFIX} (256 addresses), got ${JSON.stringify(entry.slice(0, 64))}`);
  }
  const size = 2 ** (32 - prefix);
  const base = toNumber(address) - (toNumber(address) % size);
  const hosts: string[] = [];
  const skipEnds = size > 2;
  for (let i = skipEnds ? 1 : 0; i < (skipEnds ? size - 1 : size); i += 1) hosts.push(toAddress(base + i));
  return hosts;
}

/**
 * Expands and validates probe targets.
 *
 * @throws {InvalidOptionError} for an invalid entry, a block larger than /24, none, or more than 256 targets.
 */
export function resolveProbeTargets(value: unknown): string[] {
  const entries = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : undefined;
  if (entries === undefined || entries.some((entry) => typeof entry !== 'string')) {
    throw new InvalidOptionError('probe: expected a list (or comma-separated string) of IPv4 addresses and CIDR blocks');
  }
  const targets = new Set<string>();
  for (const entry of entries as string[]) {
    if (entry.trim() === '') continue;
    for (const address of expand(entry.trim())) targets.add(address);
    if (targets.size > MAX_PROBE_TARGETS) throw new InvalidOptionError(`probe: at most ${MAX_PROBE_TARGETS} addresses in all`);
  }
  if (targets.size === 0) throw new InvalidOptionError('probe: expected at least one address');
  return [...targets];
}
