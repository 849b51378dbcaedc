import type { ClientToServerEvents, ServerToClientEvents } from '@tabula/core';
import type { Server, Socket } from 'socket.io';

/** What the handshake decided about a connection. */
export interface SocketData {
  role: 'participant' | 'admin';
}

export type HubServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type HubSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
