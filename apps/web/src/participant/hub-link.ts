import { PROTOCOL_VERSION, type Assignment, type Hello, type ParticipantState, type Welcome } from '@tabula/core';
import { io } from 'socket.io-client';
import { errorMessage } from '../shared/dom.js';
import { ACK_TIMEOUT_MS, type HubSocket } from '../shared/socket-types.js';
import type { Identity } from './identity.js';

/** What the tab tells the hub about itself; the link adds the protocol version and the stored id. */
export type HelloBody = Omit<Hello, 'protocolVersion' | 'participantId'>;

export interface HubLinkEvents {
  /** Every accepted hello (each connect and reconnect, and every re-send). */
  onWelcome(welcome: Welcome): void;
  /** Connection trouble, as a sentence (the socket retries by itself). */
  onConnectionProblem(message: string): void;
  onHelloRejected(message: string): void;
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

  constructor(
    private readonly identity: Identity,
    private readonly hello: () => HelloBody,
    private readonly events: HubLinkEvents,
  ) {
    this.socket = io({ path: '/socket.io', auth: { role: 'participant' }, autoConnect: false });
    this.socket.on('connect', () => void this.sendHello());
    this.socket.on('connect_error', (error) => this.events.onConnectionProblem(`cannot reach the hub (${error.message}); retrying`));
    this.socket.on('disconnect', (reason) => this.events.onConnectionProblem(`connection lost (${reason}); reconnecting`));
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
    const participantId = this.identity.id;
    const hello: Hello = { protocolVersion: PROTOCOL_VERSION, ...(participantId ? { participantId } : {}), ...this.hello() };
    try {
      const reply = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('participant:hello', hello);
      if (seq !== this.helloSeq) return;
      if (!reply.ok) return this.events.onHelloRejected(`the hub refused this tab: ${reply.error}`);
      await this.identity.adopt(reply.data.participantId);
      this.events.onWelcome(reply.data);
    } catch (error) {
      if (seq === this.helloSeq && this.socket.connected) this.events.onHelloRejected(`no answer to hello: ${errorMessage(error)}`);
    }
  }

  reportStatus(status: { state: ParticipantState; round?: number; message?: string }): void {
    if (this.socket.connected) this.socket.emit('participant:status', status);
  }
}
