/**
 * Which peers may supply X-Forwarded-* headers: a precomputed `net.BlockList` of IPs and CIDRs. Only a
 * proxy in front of this one that we configured may vouch for the client's address; anyone else's
 * X-Forwarded-* values are replaced.
 */
import { BlockList, isIP } from 'node:net';
import { InvalidOptionError } from '../../shared/errors.js';

/** Answers whether a peer address is a trusted proxy. */
export interface TrustedProxies {
  /** True when `address` (as reported by the socket) is trusted. */
  has(address: string | undefined): boolean;
  /** True when no proxy is trusted (lets the hot path skip the check). */
  readonly empty: boolean;
}

const IPV4_MAPPED = '::ffff:';

/**
 * Builds the matcher from IPs and CIDRs (`10.0.0.0/8`, `::1`, `192.168.1.10`).
 *
 * @throws {InvalidOptionError} naming the entry that is not an IP or CIDR.
 */
export function trustedProxies(entries: readonly string[]): TrustedProxies {
  const list = new BlockList();
  for (const entry of entries) {
    if (typeof entry !== 'string') throw new InvalidOptionError(`trustedProxies entries must be strings, got ${typeof entry}`);
    const [address = '', prefix, extra] = entry.trim().split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? undefined : Number(prefix);
    const maxBits = family === 6 ? 128 : 32;
    if (family === 0 || extra !== undefined || (bits !== undefined && (!/^\d{1,3}$/.test(prefix ?? '') || (bits as number) > maxBits))) {
      throw new InvalidOptionError(`trustedProxies: ${JSON.stringify(entry)} is not an IP address or CIDR`);
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, bits, type);
  }
  const empty = entries.length === 0;
  return {
    empty,
    has(address: string | undefined): boolean {
      if (empty || address === undefined) return false;
      if (address.startsWith(IPV4_MAPPED) && isIP(address.slice(IPV4_MAPPED.length)) === 4) {
        return list.check(address.slice(IPV4_MAPPED.length), 'ipv4');
      }
      return list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
    },
  };
}
