/**
 * IP address helpers for target scopes: normalisation (so `::ffff:127.0.0.1`, `[::1]` and `127.0.0.1`
 * compare as the addresses they are) and a CIDR matcher on top of `node:net` `BlockList`, which
 * implements IPv4 and IPv6 prefix matching without any regular expression on the address.
 */
import { BlockList, isIP } from 'node:net';

/** Address family as `BlockList` names it. */
export type IpFamily = 'ipv4' | 'ipv6';

const MAPPED_DOTTED = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;
const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i;

/**
 * Returns the canonical form of an IP literal: brackets and zone ids removed, IPv4-mapped IPv6 turned
 * into plain IPv4, IPv6 compressed and lower case. Returns undefined when `value` is not an IP literal.
 */
export function normalizeIp(value: string): string | undefined {
  let address = value.trim().toLowerCase();
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  const zone = address.indexOf('%');
  if (zone !== -1) address = address.slice(0, zone);
  const dotted = MAPPED_DOTTED.exec(address);
  if (dotted !== null) address = dotted[1] as string;
  const hex = MAPPED_HEX.exec(address);
  if (hex !== null) {
    const high = Number.parseInt(hex[1] as string, 16);
    const low = Number.parseInt(hex[2] as string, 16);
    address = `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  }
  const family = isIP(address);
  if (family === 0) return undefined;
  // The WHATWG URL parser serialises IPv6 in its canonical compressed form (RFC 5952), so two spellings
  // of one address compare equal as strings.
  return family === 6 ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

/** The `BlockList` family of a normalised address. */
export function familyOf(address: string): IpFamily {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

/** True when a normalised address is a loopback address (127.0.0.0/8 or ::1). */
export function isLoopback(address: string): boolean {
  return LOOPBACK.check(address, familyOf(address));
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Parses `a.b.c.d/n` or `v6::/n` into a network and prefix. Returns undefined when it is not a CIDR.
 */
export function parseCidr(value: string): { network: string; prefix: number; family: IpFamily } | undefined {
  const slash = value.indexOf('/');
  if (slash === -1) return undefined;
  const network = normalizeIp(value.slice(0, slash));
  const prefixText = value.slice(slash + 1);
  if (network === undefined || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const family = familyOf(network);
  if (prefix > (family === 'ipv4' ? 32 : 128)) return undefined;
  return { network, prefix, family };
}

/** A set of addresses and networks, matched without allocation per check. */
export class AddressMatcher {
  readonly #list = new BlockList();
  #empty = true;

  /** Adds an IP literal or CIDR; returns false (and adds nothing) when it is neither. */
  add(entry: string): boolean {
    const cidr = parseCidr(entry);
    if (cidr !== undefined) {
      this.#list.addSubnet(cidr.network, cidr.prefix, cidr.family);
      this.#empty = false;
      return true;
    }
    const address = normalizeIp(entry);
    if (address === undefined) return false;
    this.#list.addAddress(address, familyOf(address));
    this.#empty = false;
    return true;
  }

  /** True when the normalised `address` is in the set. */
  has(address: string): boolean {
    return !this.#empty && this.#list.check(address, familyOf(address));
  }
}
