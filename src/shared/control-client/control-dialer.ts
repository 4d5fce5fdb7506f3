/**
 * `ControlDialer`: how every control client (the agent, the sysadmin) reaches the proxy. `prepare()`
 * loads the private key and resolves how the proxy is verified once; each `dial()` signs a fresh,
 * short-lived token (a token is used once, at the upgrade, so a redial must not reuse an old one) and
 * opens a {@link ControlConnection}. Without a fixed `audience` the token is signed once the TLS
 * handshake is done, for `inteli-proxy:<pin of the certificate on that connection>`. What a client does with the connection stays with the client.
 */
import type { Ed25519PrivateJwk } from '../identity/jwk.js';
import { proxyAudience } from '../identity/proxy-audience.js';
import { signToken } from '../identity/sign-token.js';
import type { Logger } from '../logger.js';
import type { ResolvedControlClientOptions } from './client-options.js';
import { ControlConnection } from './control-connection.js';
import { loadPrivateKey } from './private-key-source.js';
import { resolveProxyVerification } from './proxy-verification.js';
import type { ProxyVerification } from './proxy-tls.js';

/** Dials the control plane as one key id. */
export class ControlDialer {
  readonly #options: ResolvedControlClientOptions;
  readonly #subject: string;
  readonly #logger: Logger;
  #key: Ed25519PrivateJwk | undefined;
  #verification: ProxyVerification = { mode: 'system' };

  /** `subject` is the key's id in the proxy's trust store (the token's `sub`). */
  constructor(options: ResolvedControlClientOptions, subject: string, logger: Logger) {
    this.#options = options;
    this.#subject = subject;
    this.#logger = logger;
  }

  /**
   * Loads the key and resolves the proxy verification; call before `dial()` (again after a failure).
   *
   * @throws {InvalidKeyError} when the key cannot be loaded; {@link InvalidOptionError} for an unreadable CA file.
   */
  async prepare(): Promise<void> {
    this.#key = await loadPrivateKey(this.#options.key, this.#logger);
    this.#verification = await resolveProxyVerification(this.#options, this.#logger);
  }

  /**
   * Signs a fresh token and opens a control connection.
   *
   * @throws {ControlError}, {TimeoutError}, {TlsError} as `ControlConnection.open()` does.
   */
  async dial(): Promise<ControlConnection> {
    const options = this.#options;
    const key = this.#key as Ed25519PrivateJwk;
    const sign = (audience: string): Promise<string> => signToken(key, { subject: this.#subject, audience, ttlSeconds: options.tokenTtlSeconds });
    const token = options.audience === undefined ? (pin: string | undefined) => sign(proxyAudience(pin)) : await sign(options.audience);
    return ControlConnection.open({
      url: options.proxyUrl,
      token,
      verification: this.#verification,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      channelProof: options.channelProof,
      logger: this.#logger,
    });
  }
}
