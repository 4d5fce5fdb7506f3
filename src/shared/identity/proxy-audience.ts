/**
 * The default token audience names the proxy (issue 14): `inteli-proxy:<pin>`, the SHA-256 pin of the
 * control plane's certificate public key. A token is then good only for the proxy whose certificate the
 * client saw when it signed it, so one captured from another proxy trusting the same key, or by a
 * man in the middle of an unverified (`insecure`) connection, which presents its own certificate, is
 * refused for the wrong audience. Agents need no setting: they read the pin in the TLS handshake of the
 * very connection that carries the token. Without TLS (plain `ws://`, development only) there is no pin
 * and the audience is the bare prefix.
 */

/** The audience prefix, and the whole audience without TLS (the original's constant). */
export const AUDIENCE_PREFIX = 'inteli-proxy';

/** The default audience of the proxy whose control certificate has public-key pin `pin`. */
export function proxyAudience(pin: string | undefined): string {
  return pin === undefined ? AUDIENCE_PREFIX : `${AUDIENCE_PREFIX}:${pin}`;
}
