import { ParticipantSession, type AckErrorCode, type ParticipantSessionOptions } from '@tabula/core';
import { FailoverSocket } from './hub-failover.js';

/** A pause before reconnecting after the hub closed the connection (it may be restarting). */
const SERVER_DISCONNECT_RETRY_MS = 1000;

/**
 * The tab's session with its hub: core's ParticipantSession over a socket.io connection as role 'participant', to
 * the hub that served the page, or, with several hubs, to the next live one when that one goes away (hub-failover.ts).
 * The tab says goodbye when it closes, so the hub stops sampling it at once instead of after a heartbeat timeout,
 * and a page restored from the back/forward cache joins again. Connect it with `session.connect()`.
 */
export function openHubSession(
  options: Omit<ParticipantSessionOptions, 'socket' | 'reconnectDelayMs'> & { readonly onMoved?: (from: string, to: string) => void },
): ParticipantSession {
  const socket = new FailoverSocket({ home: location.origin, ...(options.onMoved ? { onMoved: options.onMoved } : {}) });
  const session = new ParticipantSession({
    socket,
    reconnectDelayMs: SERVER_DISCONNECT_RETRY_MS,
    ...options,
    // A hub above its budget names one with room: go there, as after a failover.
    onHelloRefused: (refusal) => {
      if (refusal.code === 'full' && refusal.redirect) socket.moveTo(refusal.redirect);
      else options.onHelloRefused?.(refusal);
    },
  });
  addEventListener('pagehide', () => session.disconnect());
  addEventListener('pageshow', (event) => {
    if (event.persisted) session.connect();
  });
  return session;
}

/** What the tab says when the hub would not take it: it switches on the hub's code, never on its sentence. */
export function refusalMessage(refusal: { readonly code?: AckErrorCode; readonly error: string }): string {
  switch (refusal.code) {
    case 'client-too-old':
      return `this page is older than the hub: reload it (${refusal.error})`;
    case 'server-too-old':
      return `the hub is older than this page and cannot take it until it is upgraded (${refusal.error})`;
    case 'unavailable':
    case 'full':
      return `cannot join the hub now: ${refusal.error}`;
    default:
      return `the hub refused this tab: ${refusal.error}`;
  }
}
