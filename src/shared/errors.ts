/**
 * The one catalog of errors inteli-proxy throws or sends.
 *
 * Every error is a {@link ProxyError} subclass with a stable `code` (`RP_ERR_*`) that callers branch on,
 * an HTTP `statusCode` where one makes sense, and the original `cause` preserved. `docs/errors.md` lists
 * every code; a unit test keeps the two in sync.
 */

/** Every error code, with the HTTP status it maps to (if any) and a one-line meaning for the docs. */
export const ERROR_CATALOG = {
  RP_ERR_INVALID_OPTION: { status: undefined, summary: 'An option passed to a constructor is invalid.' },
  RP_ERR_INVALID_ENV: { status: undefined, summary: 'An environment variable has an invalid value.' },
  RP_ERR_INVALID_CONFIG: { status: undefined, summary: 'The configuration file cannot be read or holds an invalid or unknown key.' },
  RP_ERR_LISTEN: { status: undefined, summary: 'A listener could not bind (address in use, permission).' },
  RP_ERR_TLS: { status: undefined, summary: 'A TLS certificate or key could not be loaded or used.' },
  RP_ERR_NOT_RUNNING: { status: undefined, summary: 'The object is stopping or stopped.' },
  RP_ERR_NO_ROUTE: { status: 403, summary: 'No rule matches the request.' },
  RP_ERR_NO_TARGET: { status: 403, summary: 'A rule matches but none of its targets is ready.' },
  RP_ERR_BAD_REQUEST: { status: 400, summary: 'The client request is malformed.' },
  RP_ERR_UPSTREAM_CONNECT: { status: 502, summary: 'The target refused or reset the connection.' },
  RP_ERR_UPSTREAM_RESPONSE: { status: 502, summary: 'The target sent an invalid or truncated response.' },
  RP_ERR_UPSTREAM_TIMEOUT: { status: 504, summary: 'The target did not answer in time.' },
  RP_ERR_CLIENT_ABORTED: { status: 499, summary: 'The client went away before the response was sent.' },
  RP_ERR_SHUTTING_DOWN: { status: 503, summary: 'The proxy is stopping and takes no new requests.' },
  RP_ERR_UNAUTHORIZED: { status: 401, summary: 'The caller could not be authenticated.' },
  RP_ERR_FORBIDDEN: { status: 403, summary: 'The caller is authenticated but not allowed to do this.' },
  RP_ERR_INVALID_ID: { status: 400, summary: 'An id does not match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$.' },
  RP_ERR_INVALID_KEY: { status: 400, summary: 'A key is malformed or not an Ed25519 public key.' },
  RP_ERR_UNKNOWN_ID: { status: 404, summary: 'No key or backend has this id.' },
  RP_ERR_ALREADY_EXISTS: { status: 409, summary: 'A key with this id already exists.' },
  RP_ERR_INVALID_MESSAGE: { status: undefined, summary: 'A control-plane frame is not valid for the protocol.' },
  RP_ERR_OUT_OF_SCOPE: { status: 403, summary: 'A registration names a rule or target outside its key scope.' },
  RP_ERR_REJECTED: { status: 403, summary: 'A gatekeeper refused the registration.' },
  RP_ERR_LIMIT_EXCEEDED: { status: 429, summary: 'A control-plane limit was exceeded.' },
  RP_ERR_TIMEOUT: { status: undefined, summary: 'An operation did not complete in time.' },
  RP_ERR_DISCONNECTED: { status: undefined, summary: 'The control connection closed before an answer came.' },
  RP_ERR_TRUST_STORE: { status: undefined, summary: 'The trust store file could not be read or written.' },
  RP_ERR_TRUST_STALE: { status: 503, summary: 'The shared trust store (Redis) has been unreachable for longer than trustMaxStalenessMs: new sessions are refused until it is back.' },
  RP_ERR_LOOP_DETECTED: { status: 508, summary: 'The request already passed through this proxy (its Via entry): a forwarding loop.' },
  RP_ERR_TUNNEL_LIMIT: { status: 503, summary: 'The target already has as many open tunnels as maxTunnelsPerTarget allows.' },
  RP_ERR_CLUSTER_SECRET: { status: undefined, summary: 'A cluster secret is missing, unreadable or under 32 random bytes.' },
  RP_ERR_INTERNAL: { status: 500, summary: 'An unexpected failure inside the proxy (logged); a bug to report.' },
  RP_ERR_ACME: { status: undefined, summary: 'A certificate could not be obtained, renewed or stored through ACME.' },
} as const satisfies Record<string, { status: number | undefined; summary: string }>;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CATALOG;

/** Options common to every {@link ProxyError}. */
export interface ProxyErrorOptions {
  /** The lower-level error that caused this one. */
  cause?: unknown;
}

/** Base class of every error inteli-proxy throws. Branch on `code`, never on `message`. */
export class ProxyError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** HTTP status this error maps to, when it maps to one. */
  readonly statusCode: number | undefined;

  constructor(code: ErrorCode, message: string, options: ProxyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.statusCode = ERROR_CATALOG[code].status;
  }
}

/** Returns true when `value` is a {@link ProxyError}, optionally with the given code. */
export function isProxyError(value: unknown, code?: ErrorCode): value is ProxyError {
  return value instanceof ProxyError && (code === undefined || value.code === code);
}

/** An option passed to a constructor is invalid; the message names the option and what it accepts. */
export class InvalidOptionError extends ProxyError {
  constructor(message: string, options?: ProxyErrorOptions) {
    super('RP_ERR_INVALID_OPTION', message, options);
  }
}

/** An environment variable is invalid; the message names the variable. */
export class InvalidEnvError extends ProxyError {
  /** The name of the offending variable. */
  readonly variable: string;
  constructor(variable: string, message: string) {
    super('RP_ERR_INVALID_ENV', `${variable}: ${message}`);
    this.variable = variable;
  }
}

/**
 * The configuration file is unreadable or invalid. The message starts with the file (and line when
 * known), then the key's path in it (`control.limits.burst`) and what was expected.
 */
export class InvalidConfigError extends ProxyError {
  /** The configuration file (or `environment` for a variable). */
  readonly file: string;
  /** The offending key's path in the file (`control.limits.burst`), or undefined for the whole file. */
  readonly path: string | undefined;
  constructor(file: string, path: string | undefined, message: string, options?: ProxyErrorOptions & { line?: number }) {
    const where = options?.line === undefined ? file : `${file}:${options.line}`;
    super('RP_ERR_INVALID_CONFIG', path === undefined ? `${where}: ${message}` : `${where}: ${path}: ${message}`, options);
    this.file = file;
    this.path = path;
  }
}

/** A listener could not bind. */
export class ListenError extends ProxyError {
  constructor(message: string, options?: ProxyErrorOptions) {
    super('RP_ERR_LISTEN', message, options);
  }
}

/** A TLS certificate or key could not be loaded or used. */
export class TlsError extends ProxyError {
  constructor(message: string, options?: ProxyErrorOptions) {
    super('RP_ERR_TLS', message, options);
  }
}

/** The object is stopping or stopped. */
export class NotRunningError extends ProxyError {
  constructor(message: string) {
    super('RP_ERR_NOT_RUNNING', message);
  }
}

/** The caller could not be authenticated (bad, expired, replayed or unknown token). */
export class UnauthorizedError extends ProxyError {
  constructor(message: string, options?: ProxyErrorOptions) {
    super('RP_ERR_UNAUTHORIZED', message, options);
  }
}

/** The caller is authenticated but not allowed to do this. */
export class ForbiddenError extends ProxyError {
  constructor(message: string, options?: ProxyErrorOptions) {
    super('RP_ERR_FORBIDDEN', message, options);
  }
}

/** An id is not a valid key or agent id. */
export class InvalidIdError extends ProxyError {
  constructor(id: unknown) {
    super('RP_ERR_INVALID_ID', `invalid id ${JSON.stringify(String(id).slice(0, 80))}: ids match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`);
  }
}

/** A key is malformed or of the wrong type. */
export class InvalidKeyError extends ProxyError {
  constructor(message: string, options?: ProxyErrorOptions) {
    super('RP_ERR_INVALID_KEY', message, options);
  }
}

/** A trust-store file could not be read or written. */
export class TrustStoreError extends ProxyError {
  constructor(message: string, options?: ProxyErrorOptions) {
    super('RP_ERR_TRUST_STORE', message, options);
  }
}

/**
 * The shared trust store has been out of reach for longer than its staleness bound, so the keys this
 * proxy holds may include revoked ones: authentication fails closed (503) until it is back.
 */
export class TrustStaleError extends ProxyError {
  constructor(message: string, options?: ProxyErrorOptions) {
    super('RP_ERR_TRUST_STALE', message, options);
  }
}

/** An operation did not complete in time. */
export class TimeoutError extends ProxyError {
  constructor(message: string, options?: ProxyErrorOptions) {
    super('RP_ERR_TIMEOUT', message, options);
  }
}

/** A certificate could not be obtained, renewed or stored through ACME (the fallback certificate is served). */
export class AcmeError extends ProxyError {
  constructor(message: string, options?: ProxyErrorOptions) {
    super('RP_ERR_ACME', message, options);
  }
}

/**
 * An error answered by the proxy over the control plane (an `error` frame), or raised by the client
 * for a control-plane exchange. `code` is the proxy's code.
 */
export class ControlError extends ProxyError {}

/** A cluster secret (discovery) is missing, unreadable or too weak; the message says how to make one. */
export class ClusterSecretError extends ProxyError {
  constructor(message: string, options?: ProxyErrorOptions) {
    super('RP_ERR_CLUSTER_SECRET', message, options);
  }
}
