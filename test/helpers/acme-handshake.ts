/** TLS handshakes against the proxy's HTTPS listener for the ACME tests: which certificate a name gets. */
import type { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';

/** What one handshake saw. */
export interface Handshake {
  /** The leaf certificate the server presented. */
  readonly certificate: X509Certificate;
  /** True when it verifies against `ca` for the name. */
  readonly authorized: boolean;
  /** The protocol ALPN picked (`h2` offered first). */
  readonly alpn: string | false | null;
}

/** Connects with SNI `servername`, verifying against `ca` (without failing on an untrusted certificate). */
export function handshake(port: number, servername: string, ca: string | readonly string[]): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', servername, ca: ca as string | string[], rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      const peer = socket.getPeerX509Certificate();
      const authorized = socket.authorized;
      const alpn = socket.alpnProtocol;
      socket.destroy();
      if (peer === undefined) reject(new Error('no peer certificate'));
      else resolve({ certificate: peer, authorized, alpn });
    });
    socket.on('error', reject);
  });
}
