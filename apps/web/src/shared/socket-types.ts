import type { ClientToServerEvents, ServerToClientEvents } from '@tabula/core/protocol';
import type { Socket } from 'socket.io-client';

/** A socket.io client socket typed with the protocol's event maps (both pages use it). */
export type HubSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** How long to wait for any acknowledgement from the hub. */
export const ACK_TIMEOUT_MS = 15_000;
