import type {
  Ack,
  AdminSnapshot,
  HandshakeRefusal,
  ParticipantsDiff,
  RoundSummary,
  RunConfigInput,
  RunRequest,
  RunSummary,
} from '@tabula/core/protocol';
import { io } from 'socket.io-client';
import { ACK_TIMEOUT_MS, type HubSocket } from '../shared/socket-types.js';

export interface AdminLinkEvents {
  onSnapshot(snapshot: AdminSnapshot): void;
  /** What changed in the participant list since the snapshot or the previous diff. */
  onParticipants(diff: ParticipantsDiff): void;
  onRun(run: RunSummary): void;
  onRound(round: RoundSummary): void;
  /** The hub refused the token: sign in again. */
  onAuthFailed(message: string): void;
  /** Connection trouble (socket.io retries by itself); null when connected again. */
  onConnection(problem: string | null): void;
}

/**
 * The admin's acknowledged events as the protocol types them. socket.io-client types `timeout().emitWithAck` as any
 * (its FirstArg does not skip the error argument a timeout adds); a HubSocket is one of these, with no cast.
 */
interface AdminAcks {
  timeout(ms: number): {
    emitWithAck(event: 'admin:start-run', config: RunConfigInput): Promise<Ack<RunSummary>>;
    emitWithAck(event: 'admin:stop-run', request: RunRequest): Promise<Ack<RunSummary>>;
  };
}

/** The dashboard's socket.io connection as role 'admin'. */
export class AdminLink {
  private readonly socket: HubSocket;
  private readonly acks: AdminAcks;

  constructor(token: string, events: AdminLinkEvents) {
    this.socket = io({ path: '/socket.io', auth: { role: 'admin', token } });
    this.acks = this.socket;
    this.socket.on('connect', () => events.onConnection(null));
    this.socket.on('connect_error', (error) => {
      const code = (error as Error & { data?: Partial<HandshakeRefusal> }).data?.code;
      if (code === 'unauthorized') {
        this.socket.disconnect();
        events.onAuthFailed(error.message);
      } else if (code === 'rate-limited') {
        // The token is not checked until the address's window ends; socket.io's retries then sign in.
        events.onConnection(`${error.message}; signing in by itself then`);
      } else {
        events.onConnection(`cannot reach the hub (${error.message}); retrying`);
      }
    });
    this.socket.on('disconnect', (reason) => {
      if (reason !== 'io client disconnect') events.onConnection(`connection lost (${reason}); reconnecting`);
    });
    this.socket.on('admin:state', (snapshot) => events.onSnapshot(snapshot));
    this.socket.on('admin:participants', (diff) => events.onParticipants(diff));
    this.socket.on('admin:run', (run) => events.onRun(run));
    this.socket.on('admin:round', (round) => events.onRound(round));
  }

  async startRun(config: RunConfigInput): Promise<RunSummary> {
    const reply = await this.acks.timeout(ACK_TIMEOUT_MS).emitWithAck('admin:start-run', config);
    if (!reply.ok) throw new Error(reply.error);
    return reply.data;
  }

  async stopRun(runId: string): Promise<RunSummary> {
    const reply = await this.acks.timeout(ACK_TIMEOUT_MS).emitWithAck('admin:stop-run', { runId });
    if (!reply.ok) throw new Error(reply.error);
    return reply.data;
  }

  close(): void {
    this.socket.disconnect();
  }
}
