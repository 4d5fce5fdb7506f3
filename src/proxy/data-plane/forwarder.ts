/**
 * The narrow interface between the data plane and the forwarding library. Only the adapter that
 * implements it imports that library; the rest of the data plane knows routes, upstreams and this.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TargetAddress } from '../registry/backend.js';
import type { RequestHead } from './forward-headers.js';
import type { Route } from './route.js';
import type { Upstream } from './upstream.js';

/** Forwards requests to upstreams over pooled connections, one pool per origin. */
export interface Forwarder {
  /**
   * Forwards one request to `upstream` and streams the answer back into `res`. Never throws: every
   * failure is answered (502/504) or, once the response has started, ends the client connection. A
   * connect failure, or a connection reset before any response byte, on an idempotent request is retried
   * once on another upstream of `route`.
   *
   * @param target the normalised request target (path and query) to send.
   * @param setCookie a `Set-Cookie` value to add to the response (the route's affinity cookie), if any.
   */
  forward(req: IncomingMessage, res: ServerResponse, route: Route, upstream: Upstream, target: string, head: RequestHead, setCookie?: string): void;
  /** Makes sure a connection pool exists for `origin` (reference counted by upstreams). */
  retain(origin: string, target: TargetAddress): void;
  /** Drops one reference; the pool closes gracefully when none is left. */
  release(origin: string): void;
  /** Closes every pool, letting queued requests finish. */
  close(): Promise<void>;
  /** Destroys every pool and the requests still running on them. */
  destroy(): Promise<void>;
}
