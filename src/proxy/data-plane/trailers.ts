/**
 * Trailer fields (RFC 9110 section 6.5), relayed in both directions over HTTP/1.1 chunked bodies. Fields
 * a trailer must not carry (section 6.5.1: message framing, routing, request modifiers, authentication,
 * response control data, content metadata) are dropped rather than relayed, since a recipient might
 * otherwise merge them into the header section. Trailers reach an HTTP/1.0 client never (Node sends
 * trailers only with chunked encoding, which HTTP/1.0 lacks).
 */
import type { OutgoingMessage } from 'node:http';

/** Fields never relayed as trailers. */
const FORBIDDEN_TRAILERS: ReadonlySet<string> = new Set([
  'age', 'authorization', 'cache-control', 'connection', 'content-encoding', 'content-length', 'content-range', 'content-type',
  'date', 'expect', 'expires', 'host', 'keep-alive', 'location', 'max-forwards', 'pragma', 'proxy-authenticate',
  'proxy-authorization', 'proxy-connection', 'range', 'retry-after', 'set-cookie', 'te', 'trailer', 'transfer-encoding',
  'upgrade', 'vary', 'www-authenticate',
]);

/** Trailers as the forwarding library or `IncomingMessage.trailers` give them (lower-case names). */
export type TrailerFields = Readonly<Record<string, string | string[] | undefined>>;

/** The relayable trailer fields as a `[name, value]` list, or undefined when there are none. */
export function relayableTrailers(trailers: TrailerFields | undefined): [string, string][] | undefined {
  if (trailers === undefined) return undefined;
  let list: [string, string][] | undefined;
  for (const name in trailers) {
    const value = trailers[name];
    if (value === undefined || FORBIDDEN_TRAILERS.has(name.toLowerCase())) continue;
    list ??= [];
    if (typeof value === 'string') list.push([name, value]);
    else for (const item of value) list.push([name, item]);
  }
  return list;
}

/**
 * Adds the relayable trailers to an outgoing message before it ends. A field Node refuses (an invalid
 * character) is dropped: the body is complete, and a bad trailer must not cost the whole answer.
 */
export function relayTrailers(message: OutgoingMessage, trailers: TrailerFields | undefined): void {
  const list = relayableTrailers(trailers);
  if (list === undefined) return;
  try {
    message.addTrailers(list);
  } catch {
    // Dropped: see above.
  }
}
