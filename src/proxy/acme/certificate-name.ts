/**
 * The names the certificate manager will ever put in a certificate order: plain DNS names (letters,
 * digits, dashes; at least two labels), lower case, without a trailing dot. Wildcards and IP addresses
 * are refused: a wildcard needs DNS-01 and would cover names no key was given, and a certificate for an
 * address is not what a host-bound rule asks for. A name is also a storage key (a file name, a Redis key),
 * so this check is what keeps it from ever being a path.
 */

/** Longest DNS name (RFC 1035), without the trailing dot. */
export const MAX_CERTIFICATE_NAME_LENGTH = 253;

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const ALL_DIGITS_AND_DOTS = /^[0-9.]+$/;

/**
 * Normalises a server name (SNI, a rule's host) to the form certificates are kept under, or returns
 * undefined when it is not a name a certificate may be ordered for.
 */
export function certificateName(raw: unknown): string | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_CERTIFICATE_NAME_LENGTH + 1) return undefined;
  let name = raw.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0 || name.length > MAX_CERTIFICATE_NAME_LENGTH || ALL_DIGITS_AND_DOTS.test(name)) return undefined;
  const labels = name.split('.');
  if (labels.length < 2) return undefined;
  for (const label of labels) if (!LABEL.test(label)) return undefined;
  return name;
}
