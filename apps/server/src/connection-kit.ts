import type { Farewell } from '@tabula/core';
import type { HubSocket } from './hub-socket.js';
import type { Logger } from './logger.js';
import { MessageRateLimiter, type RateLimit } from './rate-limit.js';
import { RefusalLog, ackOf, clientText, guarded } from './socket-guard.js';

const KNOWN_EVENTS = new Set([
  'participant:hello',
  'participant:status',
  'update:submit',
  'eval:submit',
  'update:ready',
  'admin:start-run',
  'admin:stop-run',
]);

/** What every connection's handlers get: guarded registration, refusal logging, closing with a reason. */
export interface ConnectionKit {
  on(
    event:
      'participant:hello' | 'participant:status' | 'update:submit' | 'eval:submit' | 'update:ready' | 'admin:start-run' | 'admin:stop-run',
    handler: (...args: unknown[]) => void | Promise<void>,
  ): void;
  refused(what: string): void;
  /** Closes a connection on purpose, telling the participant why first. */
  farewell(target: HubSocket, notice: Farewell): void;
  /** Reports a handler that failed (the guard has already answered the client). */
  failed(event: string, error: unknown): void;
}

/**
 * Puts a new connection under the hub's rules before any handler sees a message: the per-connection rate limit
 * (refuse, then drop), unknown events refused with a reason, every handler guarded, refusals logged sparingly.
 */
export function connectionKit(socket: HubSocket, logger: Logger, rateLimit?: RateLimit): ConnectionKit {
  const refusals = new RefusalLog((line, fields) => logger.warn({ socket: socket.id, ...fields }, line));
  const failed = (event: string, error: unknown) => logger.error({ socket: socket.id, event, err: error }, `handler for ${event} failed`);
  const kit: ConnectionKit = {
    on: (event, handler) => socket.on(event, guarded(event, handler, failed)),
    refused: (what) => refusals.note(what),
    farewell: (target, notice) => {
      target.emit('participant:farewell', notice);
      target.disconnect(true);
    },
    failed,
  };

  const limiter = new MessageRateLimiter(rateLimit);
  socket.use((packet, next) => {
    const decision = limiter.take();
    if (decision === 'accept') return next();
    ackOf(packet)?.({
      ok: false,
      code: 'rate-limited',
      error: `rate limit: more than ${limiter.limit.perSecond} messages per second from this connection`,
    });
    if (decision === 'disconnect') {
      logger.warn({ socket: socket.id, refusals: limiter.refused }, 'messages over the rate limit; disconnecting the connection');
      kit.farewell(socket, {
        code: 'flooding',
        reason: `${limiter.refused} messages over the rate limit of ${limiter.limit.perSecond} per second`,
        reconnect: false,
      });
    }
  });
  socket.onAny((event: unknown, ...args: unknown[]) => {
    if (typeof event === 'string' && KNOWN_EVENTS.has(event)) return;
    refusals.note(`unknown event ${clientText(event)} ignored`);
    ackOf(args)?.({ ok: false, code: 'invalid', error: `unknown event ${clientText(event)}` });
  });
  return kit;
}
