/**
 * How a client (agent or admin) verifies the proxy before it sends its token: a SHA-256 pin of the
 * proxy's public key (what the proxy prints at start), a CA certificate, or, explicitly, nothing (development).
 *
 * The TLS connection is made here and handed to `ws` only after the check passed, through the
 * `createConnection` callback of `http.request`. Verifying in a later event would be too late: the
 * upgrade request, with its bearer token, would already be on its way to whoever answered.
 */
import { timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { Socket } from 'node:net';
import { TimeoutError, TlsError } from '../errors.js';
import { peerCertificatePin } from '../tls/public-key-pin.js';

/** How the proxy is verified; exactly one mode. */
export type ProxyVerification =
  | { readonly mode: 'pin'; readonly pins: readonly string[] }
  | { readonly mode: 'ca'; readonly ca: string | Buffer }
  | { readonly mode: 'system' }
  | { readonly mode: 'insecure' };

/** A base64 SHA-256 is 44 characters ending in `=`; `sha256//` (curl's spelling) is accepted too. */
const PIN = /^(?:sha256\/\/)?([A-Za-z0-9+/]{43}=)$/;

/**
 * Normalises a pin (drops a `sha256//` prefix), or returns undefined when it is not a base64 SHA-256.
 */
export function normalizePin(pin: unknown): string | undefined {
  if (typeof pin !== 'string') return undefined;
  const match = PIN.exec(pin.trim());
  return match === null ? undefined : match[1];
}

function pinMatches(actual: string, pins: readonly string[]): boolean {
  const actualBytes = Buffer.from(actual);
  return pins.some((pin) => {
    const expected = Buffer.from(pin);
    return expected.length === actualBytes.length && timingSafeEqual(expected, actualBytes);
  });
}

/** The `createConnection` signature `http.request` accepts (callback form). */
export type ConnectFunction = (options: { host?: string | null; port?: number | string | null }, callback: (error: Error | null, socket?: Socket) => void) => undefined;

/**
 * Builds the `createConnection` used for `wss:` URLs: connects, completes the TLS handshake, applies
 * `verification`, and only then hands the socket over. Errors: {@link TlsError} (pin mismatch, bad
 * certificate), {@link TimeoutError} (no handshake within `timeoutMs`), or the socket error.
 */
export function createVerifiedConnector(verification: ProxyVerification, timeoutMs: number): ConnectFunction {
  return (options, callback) => {
    const host = typeof options.host === 'string' && options.host.length > 0 ? options.host : 'localhost';
    const port = Number(options.port);
    const socket = tls.connect({
      host,
      port,
      // SNI must not carry an IP literal (RFC 6066).
      servername: net.isIP(host) === 0 ? host : undefined,
      minVersion: 'TLSv1.2',
      // With a pin, the pin is the trust anchor (the proxy's certificate is usually self-signed), so chain
      // validation is replaced by the pin check below, never simply skipped.
      rejectUnauthorized: verification.mode === 'ca' || verification.mode === 'system',
      ...(verification.mode === 'ca' ? { ca: verification.ca } : {}),
    });
    let settled = false;
    const finish = (error: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error !== null) {
        socket.destroy();
        callback(error);
        return;
      }
      callback(null, socket);
    };
    const onError = (error: Error): void => {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      const tlsFailure = code.startsWith('ERR_TLS') || code.includes('CERT') || code.includes('SELF_SIGNED') || code === 'ERR_SSL_WRONG_VERSION_NUMBER';
      finish(tlsFailure ? new TlsError(`the proxy's certificate was not accepted: ${error.message}`, { cause: error }) : error);
    };
    const timer = setTimeout(() => finish(new TimeoutError(`no TLS handshake with the proxy within ${timeoutMs} ms`)), timeoutMs);
    // Stays attached after the hand-over (it is a no-op once settled): http attaches its own listener
    // only on the next tick, and an error in between must not become an uncaught exception.
    socket.on('error', onError);
    socket.once('secureConnect', () => {
      if (verification.mode !== 'pin') {
        finish(null);
        return;
      }
      let actual: string | undefined;
      try {
        actual = peerCertificatePin(socket.getPeerCertificate(false));
      } catch {
        actual = undefined;
      }
      if (actual === undefined || !pinMatches(actual, verification.pins)) {
        finish(new TlsError(`the proxy's public-key pin ${actual ?? '(none)'} does not match the configured pin`));
        return;
      }
      finish(null);
    });
    return undefined;
  };
}
