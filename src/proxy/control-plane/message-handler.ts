/**
 * Routes each valid request of a session to its handler. The session already refused admin-only types
 * from agent keys, so this is a plain dispatch on `type`.
 */
import type { ClientMessage } from '../../shared/protocol.js';
import type { RemovalReason } from '../registry/backend.js';
import { handleBackendsDrain, handleBackendsList, handleBackendsUndrain, handleKeysAdd, handleKeysImport, handleKeysList, handleKeysRemove } from './admin-handlers.js';
import { handleDrain, handleEvent, handleHealth, handleRegister, startDrain } from './agent-handlers.js';
import type { ControlContext } from './control-context.js';
import { handleFleetList } from './fleet-handlers.js';
import type { Session, SessionHandler } from './session.js';

/** Session lifecycle callbacks the control plane implements. */
export interface SessionLifecycle {
  /** The proxy started closing the session (remove its backend now). */
  closing(session: Session, reason: RemovalReason): void;
  /** The session is closed (remove its backend if still there, forget the session). */
  closed(session: Session, reason: RemovalReason): void;
}

/**
 * Builds the {@link SessionHandler} of a control plane. `context` is read lazily so the control plane
 * can create the handler before its context is complete.
 */
export function createMessageHandler(context: () => ControlContext, lifecycle: SessionLifecycle): SessionHandler {
  return {
    async handle(session: Session, message: ClientMessage): Promise<unknown> {
      const ctx = context();
      switch (message.type) {
        case 'register':
          return handleRegister(ctx, session, message);
        case 'health':
          return handleHealth(ctx, session, message);
        case 'drain':
          return handleDrain(session, message);
        case 'event':
          handleEvent(ctx, session, message);
          return undefined;
        case 'keys.add':
          return handleKeysAdd(ctx, session, message);
        case 'keys.import':
          return handleKeysImport(ctx, session, message);
        case 'keys.remove':
          return handleKeysRemove(ctx, session, message);
        case 'keys.list':
          return handleKeysList(ctx);
        case 'backends.list':
          return handleBackendsList(ctx);
        case 'backends.drain':
          return handleBackendsDrain(ctx, session, message);
        case 'backends.undrain':
          return handleBackendsUndrain(ctx, session, message);
        case 'fleet.list':
          return handleFleetList(ctx);
      }
    },
    acknowledged(session: Session, message: ClientMessage): void {
      // `drained` must follow the drain's ack, even when the backend is idle already.
      if (message.type === 'drain') startDrain(context(), session);
    },
    closing: (session, reason) => lifecycle.closing(session, reason),
    closed: (session, reason) => lifecycle.closed(session, reason),
  };
}
