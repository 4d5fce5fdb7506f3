/**
 * The proxy's own listeners are never a valid target (issue 14). A key allowed `/api` registered
 * `127.0.0.1:<admin port>`, and anyone reaching the data plane read the admin listener, which trusted the
 * proxy as a loopback caller; a target on the data port makes a forwarding loop. So a registration whose
 * target would reach the data (HTTP, HTTPS), control or admin listener (the same ports in every cluster
 * worker) is refused, whatever the key's scope says.
 *
 * A listener bound to an address is reached by that address; one bound to the unspecified address
 * (`0.0.0.0`, `::`) by any address of this machine: loopback, any interface's, the unspecified address
 * itself (connecting to `0.0.0.0` reaches the local host). Host names are resolved once, at registration
 * (bounded); `localhost` and `*.localhost` are loopback without asking DNS (RFC 6761). A name that
 * resolves elsewhere now and here later (DNS rebinding) is caught by the admin listener's refusal to
 * trust forwarded requests and by the data plane's `Via` loop check.
 */
import { lookup } from 'node:dns/promises';
import { hostname, networkInterfaces } from 'node:os';
import { isLoopback, normalizeIp } from './address.js';

/** One bound (or configured) listener of the proxy. */
export interface ListenerAddress {
  readonly address: string;
  readonly port: number;
}

/** Resolves a host name to its addresses (injectable for tests). */
export type HostResolver = (host: string) => Promise<readonly string[]>;

/** Bound on resolving a target's host name at registration, in milliseconds. */
export const OWN_LISTENER_LOOKUP_TIMEOUT_MS = 2000;

function isUnspecified(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/** The addresses of this machine's interfaces, normalised. Read per check: interfaces come and go. */
function localAddresses(): Set<string> {
  const addresses = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) {
      const address = normalizeIp(entry.address);
      if (address !== undefined) addresses.add(address);
    }
  }
  return addresses;
}

const defaultResolver: HostResolver = async (host) => {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('lookup timed out')), OWN_LISTENER_LOOKUP_TIMEOUT_MS);
    });
    const found = await Promise.race([lookup(host, { all: true, verbatim: true }), timeout]);
    return found.map((entry) => entry.address);
  } finally {
    clearTimeout(timer);
  }
};

/** The addresses a target host stands for: itself when an IP, loopback for `localhost`, else DNS. */
async function addressesOf(host: string, resolve: HostResolver): Promise<string[]> {
  const name = host.toLowerCase().replace(/\.$/, '');
  const ip = normalizeIp(name);
  if (ip !== undefined) return [ip];
  if (name === 'localhost' || name.endsWith('.localhost')) return ['127.0.0.1', '::1'];
  const own = name === hostname().toLowerCase() ? ['127.0.0.1', ...localAddresses()] : [];
  try {
    const resolved = await resolve(name);
    return [...own, ...resolved.map((address) => normalizeIp(address)).filter((address): address is string => address !== undefined)];
  } catch {
    // An unresolvable name cannot be connected to now; the checks at request time cover later answers.
    return own;
  }
}

/**
 * The listener `target` would reach, or undefined when it reaches none of them.
 *
 * @param resolve resolves host names (default: `dns.lookup`, bounded by {@link OWN_LISTENER_LOOKUP_TIMEOUT_MS}).
 */
export async function ownListenerOf(
  target: { readonly host: string; readonly port: number },
  listeners: readonly ListenerAddress[],
  resolve: HostResolver = defaultResolver,
): Promise<ListenerAddress | undefined> {
  const candidates = listeners.filter((listener) => listener.port === target.port);
  if (candidates.length === 0) return undefined;
  const addresses = await addressesOf(target.host, resolve);
  if (addresses.length === 0) return undefined;
  const local = addresses.some((address) => isUnspecified(address) || isLoopback(address)) ? undefined : localAddresses();
  for (const listener of candidates) {
    const bound = normalizeIp(listener.address) ?? listener.address.toLowerCase();
    for (const address of addresses) {
      if (isUnspecified(address) || address === bound) return listener;
      if (bound === 'localhost' && isLoopback(address)) return listener;
      if (isUnspecified(bound) && (isLoopback(address) || local?.has(address) === true)) return listener;
    }
  }
  return undefined;
}
