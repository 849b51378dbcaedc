import { PROTOCOL_VERSION, type Assignment, type Farewell, type Hello, type ParticipantState, type Welcome } from '@tabula/core';
import { io } from 'socket.io-client';
import { errorMessage } from '../shared/dom.js';
import { ACK_TIMEOUT_MS, type HubSocket } from '../shared/socket-types.js';
import type { Identity } from './identity.js';

/** A pause before reconnecting after the hub closed the connection (it may be restarting). */
const SERVER_DISCONNECT_RETRY_MS = 1000;

/** What the tab tells the hub about itself; the link adds the protocol version and the stored id. */
export type HelloBody = Omit<Hello, 'protocolVersion' | 'participantId' | 'participantSecret'>;

export interface HubLinkEvents {
  /** Every accepted hello (each connect and reconnect, and every re-send). */
  onWelcome(welcome: Welcome): void;
  /** Connection trouble, as a sentence (the socket retries by itself). */
  onConnectionProblem(message: string): void;
  onHelloRejected(message: string): void;
  /** The hub closed this tab's connection on purpose and asked it not to come back (another tab took over...). */
  onFarewell(message: string): void;
  onRoundCancelled(message: string): void;
  /** The hub offers a shard of a new run's scenario. */
  onAssign(assignment: Assignment): void;
}

/**
 * The participant's socket.io connection: joins as role 'participant', says hello on every (re)connect with
 * this tab's id (see identity.ts), and reports state changes so the dashboard sees them.
 */
export class HubLink {
  readonly socket: HubSocket;
  private helloSeq = 0;
  private farewell: Farewell | null = null;

  constructor(
    private readonly identity: Identity,
    private readonly hello: () => HelloBody,
    private readonly events: HubLinkEvents,
  ) {
    this.socket = io({ path: '/socket.io', auth: { role: 'participant' }, autoConnect: false });
    this.socket.on('connect', () => void this.sendHello());
    this.socket.on('connect_error', (error) => this.events.onConnectionProblem(`cannot reach the hub (${error.message}); retrying`));
    this.socket.on('participant:farewell', (notice) => {
      this.farewell = notice;
      if (!notice.reconnect) this.events.onFarewell(`the hub closed this tab's connection: ${notice.reason}`);
    });
    this.socket.on('disconnect', (reason) => {
      // socket.io does not reconnect after the server closed the connection: do so, unless the hub said not to.
      if (reason === 'io server disconnect') {
        if (this.farewell?.reconnect === false) return;
        setTimeout(() => this.socket.connect(), SERVER_DISCONNECT_RETRY_MS);
      }
      this.events.onConnectionProblem(`connection lost (${reason}); reconnecting`);
    });
    this.socket.on('round:cancel', (info) => this.events.onRoundCancelled(`round ${info.round} cancelled: ${info.reason}`));
    this.socket.on('participant:assign', (assignment) => this.events.onAssign(assignment));
    // Say goodbye when the tab closes, so the hub stops sampling it at once instead of after a heartbeat timeout;
    // a page restored from the back/forward cache joins again.
    addEventListener('pagehide', () => this.socket.disconnect());
    addEventListener('pageshow', (event) => {
      if (event.persisted) this.socket.connect();
    });
  }

  connect(): void {
    this.socket.connect();
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Says hello with the current facts; only the answer to the latest hello counts. */
  async sendHello(): Promise<void> {
    if (!this.socket.connected) return;
    const seq = ++this.helloSeq;
    const message = (): Hello => {
      const { id, secret } = this.identity;
      return { protocolVersion: PROTOCOL_VERSION, ...(id ? { participantId: id } : {}), ...(id && secret ? { participantSecret: secret } : {}), ...this.hello() };
    };
    try {
      let reply = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('participant:hello', message());
      if (!reply.ok && reply.code === 'identity-refused' && this.identity.id) {
        // Another participant holds this id (ours was forgotten by the hub, and somebody took it): start afresh.
        this.identity.forget();
        reply = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('participant:hello', message());
      }
      if (seq !== this.helloSeq) return;
      if (!reply.ok) return this.events.onHelloRejected(`the hub refused this tab: ${reply.error}`);
      await this.identity.adopt(reply.data.participantId, reply.data.participantSecret);
      this.events.onWelcome(reply.data);
    } catch (error) {
      if (seq === this.helloSeq && this.socket.connected) this.events.onHelloRejected(`no answer to hello: ${errorMessage(error)}`);
    }
  }

  reportStatus(status: { state: ParticipantState; round?: number; message?: string }): void {
    if (this.socket.connected) this.socket.emit('participant:status', status);
  }
}
