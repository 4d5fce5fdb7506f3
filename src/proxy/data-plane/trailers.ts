/**
 * Trailer fields (RFC 9110 section 6.5), relayed in both directions over HTTP/1.1 chunked bodies. Fields
 * a trailer must not carry (section 6.5.1: message framing, routing, request modifiers, authentication,
 * response control data, content metadata) are dropped rather than relayed, since a recipient might
 * otherwise merge them into the header section. Trailers reach an HTTP/1.0 client never (Node sends
 * trailers only with chunked encoding, which HTTP/1.0 lacks).
 *
 * Request trailers also lose every client-identity and forwarding field the header pass strips or sets
 * (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`, `Via`, ...; see `forward-headers.ts`): a backend that merges
 * trailers into its headers must not learn a client-chosen address, URL or hop list that way (issue 14).
 */
import type { OutgoingMessage } from 'node:http';

/** Fields never relayed as trailers. */
const FORBIDDEN_TRAILERS: ReadonlySet<string> = new Set([
  'age', 'authorization', 'cache-control', 'connection', 'content-encoding', 'content-length', 'content-range', 'content-type',
  'date', 'expect', 'expires', 'host', 'keep-alive', 'location', 'max-forwards', 'pragma', 'proxy-authenticate',
  'proxy-authorization', 'proxy-connection', 'range', 'retry-after', 'set-cookie', 'te', 'trailer', 'transfer-encoding',
  'upgrade', 'vary', 'www-authenticate',
]);

/**
 * Fields never relayed in a request's trailers: the ones `buildRequestHead` sets itself or keeps only
 * from a trusted proxy. Trailers are never trusted (a trusted proxy's identity is in its headers).
 */
const FORBIDDEN_REQUEST_TRAILERS: ReadonlySet<string> = new Set([
  'forwarded', 'via', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-real-ip',
  'true-client-ip', 'x-client-ip', 'x-cluster-client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'x-forwarded-port',
  'x-forwarded-prefix', 'x-forwarded-server', 'x-forwarded-ssl', 'x-forwarded-scheme', 'x-forwarded-uri',
  'x-forwarded-path', 'x-forwarded-by', 'x-original-url', 'x-original-uri', 'x-original-host',
  'x-original-forwarded-for', 'x-rewrite-url', 'x-scheme', 'front-end-https',
]);

/** Trailers as the forwarding library or `IncomingMessage.trailers` give them (lower-case names). */
export type TrailerFields = Readonly<Record<string, string | string[] | undefined>>;

/**
 * The relayable trailer fields as a `[name, value]` list, or undefined when there are none.
 *
 * @param request true for a client's trailers on their way to a backend (identity fields dropped too).
 */
export function relayableTrailers(trailers: TrailerFields | undefined, request = false): [string, string][] | undefined {
  if (trailers === undefined) return undefined;
  let list: [string, string][] | undefined;
  for (const name in trailers) {
    const value = trailers[name];
    const lower = name.toLowerCase();
    if (value === undefined || FORBIDDEN_TRAILERS.has(lower) || (request && FORBIDDEN_REQUEST_TRAILERS.has(lower))) continue;
    list ??= [];
    if (typeof value === 'string') list.push([name, value]);
    else for (const item of value) list.push([name, item]);
  }
  return list;
}

/**
 * Adds the relayable trailers to an outgoing message before it ends. A field Node refuses (an invalid
 * character) is dropped: the body is complete, and a bad trailer must not cost the whole answer.
 *
 * @param request true when `message` is the upstream request (the client's trailers).
 */
export function relayTrailers(message: OutgoingMessage, trailers: TrailerFields | undefined, request = false): void {
  const list = relayableTrailers(trailers, request);
  if (list === undefined) return;
  try {
    message.addTrailers(list);
  } catch {
    // Dropped: see above.
  }
}
