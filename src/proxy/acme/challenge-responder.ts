/**
 * Answers ACME HTTP-01 challenges (RFC 8555 section 8.3) on the HTTP listener: `GET
 * /.well-known/acme-challenge/<token>` is answered with the key authorization while an order waits for
 * it. The data plane calls this before routing. A token this proxy does not know falls through to normal
 * routing, so a backend that runs its own ACME client behind the proxy keeps working.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../shared/logger.js';
import type { CertificateStorage } from './certificate-storage.js';

/** The path prefix of HTTP-01 challenges. */
export const CHALLENGE_PATH_PREFIX = '/.well-known/acme-challenge/';

/** A token is base64url (RFC 8555 section 8.1: at least 128 bits of entropy). */
const TOKEN = /^[A-Za-z0-9_-]{16,256}$/;

/** HTTP-01 answers: the ones this proxy published, then the shared storage's (a fleet). */
export class ChallengeResponder {
  readonly #storage: CertificateStorage;
  readonly #logger: Logger;
  readonly #local = new Map<string, string>();

  constructor(storage: CertificateStorage, logger: Logger) {
    this.#storage = storage;
    this.#logger = logger;
  }

  /** Publishes an answer (locally at once, and in storage for the other proxies of a fleet). */
  async publish(token: string, keyAuthorization: string, ttlMs: number): Promise<void> {
    this.#local.set(token, keyAuthorization);
    await this.#storage.writeChallenge(token, keyAuthorization, ttlMs);
  }

  /** Withdraws an answer once its order is done. */
  async withdraw(token: string): Promise<void> {
    this.#local.delete(token);
    await this.#storage.removeChallenge(token);
  }

  /**
   * Answers the request when it is a challenge this proxy (or its fleet) published and returns true, or
   * returns false at once when it is no challenge request; `next` routes a challenge request whose token is
   * unknown.
   */
  handle(req: IncomingMessage, res: ServerResponse, next: () => void): boolean {
    const url = req.url;
    if (url === undefined || !url.startsWith(CHALLENGE_PATH_PREFIX) || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    const token = url.slice(CHALLENGE_PATH_PREFIX.length);
    if (!TOKEN.test(token)) return false;
    const local = this.#local.get(token);
    if (local !== undefined) {
      answer(res, local);
      return true;
    }
    this.#storage.readChallenge(token).then(
      (shared) => (shared === undefined ? next() : answer(res, shared)),
      (error: unknown) => {
        this.#logger.warn({ err: (error as Error).message }, 'challenge lookup failed; routing the request');
        next();
      },
    );
    return true;
  }
}

function answer(res: ServerResponse, keyAuthorization: string): void {
  if (res.headersSent || res.destroyed) return;
  const body = Buffer.from(keyAuthorization, 'ascii');
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
