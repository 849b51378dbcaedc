import type { ParticipantChannel, SecAggHandler } from './participant.js';
import { SECAGG_STAGES, type SecAggStage } from '../secagg/messages.js';
import {
  PROTOCOL_VERSION,
  ParticipantStatusSchema,
  type Ack,
  type AckErrorCode,
  type Assignment,
  type ClientToServerEvents,
  type EvaluationReport,
  type Farewell,
  type Hello,
  type ParticipantState,
  type ServerToClientEvents,
  type UpdateMeta,
  type UpdateReady,
  type UpdateReceipt,
  type Welcome,
} from '../protocol.js';
import type { ParticipantCredentials } from './credentials.js';

/** The arguments of an acknowledged client event, without the ack callback. */
type AckedArgs<E extends keyof ClientToServerEvents> = ClientToServerEvents[E] extends (
  ...args: [...infer A, (reply: infer _R) => void]
) => void
  ? A
  : never;
/** What the hub answers an acknowledged client event with. */
type AckReply<E extends keyof ClientToServerEvents> = ClientToServerEvents[E] extends (
  ...args: [...infer _A, (reply: infer R) => void]
) => void
  ? R
  : never;

/**
 * The part of a socket.io-client `Socket<ServerToClientEvents, ClientToServerEvents>` a participant uses, written
 * out event by event (core cannot import socket.io): such a socket is one, with no cast, and so is a test's fake.
 */
export interface ParticipantSocket {
  readonly connected: boolean;
  connect(): unknown;
  disconnect(): unknown;
  on(event: 'connect', listener: () => void): unknown;
  on(event: 'connect_error', listener: (error: Error) => void): unknown;
  on(event: 'disconnect', listener: (reason: string) => void): unknown;
  on(event: 'round:start', listener: ServerToClientEvents['round:start']): unknown;
  on(event: 'round:cancel', listener: ServerToClientEvents['round:cancel']): unknown;
  on(event: 'participant:assign', listener: ServerToClientEvents['participant:assign']): unknown;
  on(event: 'participant:farewell', listener: ServerToClientEvents['participant:farewell']): unknown;
  on<S extends SecAggStage>(event: `secagg:${S}`, listener: ServerToClientEvents[`secagg:${S}`]): unknown;
  off(event: 'round:start', listener: ServerToClientEvents['round:start']): unknown;
  off<S extends SecAggStage>(event: `secagg:${S}`, listener: ServerToClientEvents[`secagg:${S}`]): unknown;
  emit(event: 'participant:status', ...args: Parameters<ClientToServerEvents['participant:status']>): unknown;
  timeout(ms: number): {
    emitWithAck(event: 'participant:hello', ...args: AckedArgs<'participant:hello'>): Promise<AckReply<'participant:hello'>>;
    emitWithAck(event: 'update:submit', ...args: AckedArgs<'update:submit'>): Promise<AckReply<'update:submit'>>;
    emitWithAck(event: 'eval:submit', ...args: AckedArgs<'eval:submit'>): Promise<AckReply<'eval:submit'>>;
    emitWithAck(event: 'update:ready', ...args: AckedArgs<'update:ready'>): Promise<AckReply<'update:ready'>>;
  };
}

/** What a participant tells the hub about itself; the session adds the protocol version and its credentials. */
export type HelloBody = Omit<Hello, 'protocolVersion' | 'participantId' | 'participantSecret'>;

/** A participant's state as the dashboard shows it (extra fields, such as training progress, stay local). */
export interface StatusReport {
  readonly state: ParticipantState;
  readonly round?: number;
  readonly message?: string;
}

export interface ParticipantSessionOptions {
  readonly socket: ParticipantSocket;
  readonly credentials: ParticipantCredentials;
  /** Called for every hello, so each one carries the participant's current facts (data, backend, shard). */
  readonly hello: () => HelloBody;
  /** Pause before reconnecting after the hub closed the connection (it may be restarting). */
  readonly reconnectDelayMs?: number;
  /** Every accepted hello: on each connect and reconnect, and each one sent with `hello()`. */
  readonly onWelcome?: (welcome: Welcome) => void;
  /** The hub refused the latest hello, or did not answer it. */
  readonly onHelloRefused?: (refusal: { readonly code?: AckErrorCode; readonly error: string; readonly redirect?: string }) => void;
  /** Connection trouble, as a sentence: the session reconnects by itself. */
  readonly onConnectionProblem?: (message: string) => void;
  /** The hub closed the connection on purpose and asked this participant not to come back. */
  readonly onFarewell?: (notice: Farewell) => void;
  /** The hub offers a shard of a new run's scenario. */
  readonly onAssign?: (assignment: Assignment) => void;
  readonly onRoundCancelled?: (info: Parameters<ServerToClientEvents['round:cancel']>[0]) => void;
}

const HELLO_TIMEOUT_MS = 15_000;
/** Longer than a hello's: an update frame of a large model takes a while to upload. */
const SUBMIT_TIMEOUT_MS = 30_000;
/** socket.io's own framing around a binary message, kept free below the hub's limit. */
const FRAME_HEADROOM_BYTES = 1024;
/** What the hub believes of a participant that has just said hello (its registry resets the state). */
const AFTER_HELLO: StatusReport = { state: 'waiting' };
/** The hub ignores a status whose message is longer: a long error is cut rather than lost. */
const MAX_STATUS_MESSAGE = ParticipantStatusSchema.shape.message.unwrap().maxLength ?? Infinity;

/**
 * One participant's conversation with its hub, the same for a browser tab and a Node participant: says hello
 * on every (re)connect with its credentials (a refused id is forgotten and the hello repeated without it), keeps
 * the credentials and the message limit of each Welcome, reconnects after the hub closed the connection unless a
 * farewell said not to, passes assignments and cancellations on, tells the hub of state changes only, and is the
 * participant's channel: round tasks in, acknowledged updates and evaluations out.
 */
export class ParticipantSession implements ParticipantChannel {
  private helloSeq = 0;
  private farewell: Farewell | null = null;
  private closed = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  /** From the latest Welcome; null until the first. */
  private maxMessageBytes: number | null = null;
  /** The participant's latest state, and the key of what the hub last heard (null: unknown, after a reconnect). */
  private status: StatusReport | null = null;
  private reported: string | null = null;

  constructor(private readonly options: ParticipantSessionOptions) {
    const { socket } = options;
    socket.on('connect', () => {
      this.farewell = null;
      this.reported = null;
      void this.hello();
    });
    socket.on('connect_error', (error) => options.onConnectionProblem?.(`cannot reach the hub (${error.message}); retrying`));
    socket.on('participant:farewell', (notice) => {
      this.farewell = notice;
      if (!notice.reconnect) options.onFarewell?.(notice);
    });
    socket.on('disconnect', (reason) => {
      if (this.closed) return;
      // socket.io does not reconnect after the server closed the connection: do so, unless the hub said not to.
      if (reason === 'io server disconnect') {
        if (this.farewell?.reconnect === false) return;
        this.reconnectTimer = setTimeout(() => {
          this.reconnectTimer = null;
          if (!this.closed && !socket.connected) socket.connect();
        }, options.reconnectDelayMs ?? 1000);
      }
      options.onConnectionProblem?.(`connection lost (${reason}); reconnecting`);
    });
    socket.on('participant:assign', (assignment) => options.onAssign?.(assignment));
    socket.on('round:cancel', (info) => options.onRoundCancelled?.(info));
  }

  get connected(): boolean {
    return this.options.socket.connected;
  }

  /** Opens the connection (again, after `disconnect`); the session says hello once it is up. */
  connect(): void {
    this.closed = false;
    this.options.socket.connect();
  }

  /** Closes the connection and stays away until `connect`. */
  disconnect(): void {
    this.closed = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.options.socket.disconnect();
  }

  /** Says hello with the current facts (the data changed); only the answer to the latest hello counts. */
  async hello(): Promise<void> {
    const { socket, credentials } = this.options;
    if (!socket.connected) return;
    const seq = ++this.helloSeq;
    const message = (): Hello => {
      const { id, secret } = credentials;
      return {
        protocolVersion: PROTOCOL_VERSION,
        ...(id ? { participantId: id } : {}),
        ...(id && secret ? { participantSecret: secret } : {}),
        ...this.options.hello(),
      };
    };
    let reply: Ack<Welcome>;
    try {
      reply = await socket.timeout(HELLO_TIMEOUT_MS).emitWithAck('participant:hello', message());
      if (!reply.ok && reply.code === 'identity-refused' && credentials.id) {
        // Another participant holds this id (the hub forgot ours, and somebody took it): start afresh.
        credentials.forget();
        reply = await socket.timeout(HELLO_TIMEOUT_MS).emitWithAck('participant:hello', message());
      }
    } catch (error) {
      // socket.io rejects on timeout; a lost connection looks the same from here, and its reconnect says hello.
      reply = { ok: false, code: 'unavailable', error: `no answer to hello within ${HELLO_TIMEOUT_MS} ms (${errorText(error)})` };
    }
    if (seq !== this.helloSeq) return;
    if (!reply.ok) {
      if (socket.connected) this.options.onHelloRefused?.(reply);
      return;
    }
    await credentials.adopt(reply.data.participantId, reply.data.participantSecret);
    this.maxMessageBytes = reply.data.maxMessageBytes;
    this.reported = keyOf(AFTER_HELLO);
    this.flushStatus();
    this.options.onWelcome?.(reply.data);
  }

  /** The participant's state changed: the hub hears of it when it differs from what the hub last heard. */
  reportStatus(status: StatusReport): void {
    this.status = {
      state: status.state,
      ...(status.round !== undefined ? { round: status.round } : {}),
      ...(status.message ? { message: status.message.slice(0, MAX_STATUS_MESSAGE) } : {}),
    };
    this.flushStatus();
  }

  onTask(handler: ServerToClientEvents['round:start']): () => void {
    const { socket } = this.options;
    socket.on('round:start', handler);
    return () => socket.off('round:start', handler);
  }

  async submitUpdate(meta: UpdateMeta, frame: Uint8Array): Promise<Ack<UpdateReceipt>> {
    if (this.maxMessageBytes === null) return { ok: false, code: 'unavailable', error: 'not welcomed by the hub yet' };
    // socket.io would silently drop an over-limit message and the connection with it: refuse it visibly.
    if (frame.byteLength + FRAME_HEADROOM_BYTES > this.maxMessageBytes) {
      return {
        ok: false,
        code: 'invalid-frame',
        error: `update frame of ${frame.byteLength} bytes exceeds the hub's message limit of ${this.maxMessageBytes} bytes`,
      };
    }
    return acknowledged('update:submit', () => this.options.socket.timeout(SUBMIT_TIMEOUT_MS).emitWithAck('update:submit', meta, frame));
  }

  submitEvaluation(report: EvaluationReport): Promise<Ack<UpdateReceipt>> {
    return acknowledged('eval:submit', () => this.options.socket.timeout(SUBMIT_TIMEOUT_MS).emitWithAck('eval:submit', report));
  }

  submitReady(ready: UpdateReady): Promise<Ack<UpdateReceipt>> {
    return acknowledged('update:ready', () => this.options.socket.timeout(SUBMIT_TIMEOUT_MS).emitWithAck('update:ready', ready));
  }

  /** The hub's secure aggregation stages, each answered through its ack (a stage without an ack is ignored). */
  onSecAgg(handler: SecAggHandler): () => void {
    const { socket } = this.options;
    const listeners = SECAGG_STAGES.map((stage) => {
      const listener = (request: unknown, ack: (reply: unknown) => void) => {
        if (typeof ack !== 'function') return;
        handler(stage, request).then(ack, (error: unknown) => ack({ ok: false, code: 'internal', error: errorText(error) }));
      };
      // One listener shape serves the four stages: the handler validates each request (the hub is not trusted either).
      socket.on(`secagg:${stage}`, listener as never);
      return [stage, listener] as const;
    });
    return () => {
      for (const [stage, listener] of listeners) socket.off(`secagg:${stage}`, listener as never);
    };
  }

  private flushStatus(): void {
    if (!this.status || !this.options.socket.connected) return;
    const { state, ...details } = this.status;
    // 'connecting' is the hub's own word for a participant whose socket is gone: a live one never claims it.
    if (state === 'connecting') return;
    const key = keyOf(this.status);
    if (key === this.reported) return;
    this.reported = key;
    this.options.socket.emit('participant:status', { state, ...details });
  }
}

function keyOf(status: StatusReport): string {
  return `${status.state}/${status.round ?? ''}/${status.message ?? ''}`;
}

async function acknowledged(event: string, emit: () => Promise<Ack<UpdateReceipt>>): Promise<Ack<UpdateReceipt>> {
  try {
    const reply = await emit();
    // Typed as an Ack, but sent by another program (a hub of another version may answer anything).
    if (typeof reply === 'object' && reply !== null && 'ok' in reply) return reply;
    return { ok: false, code: 'internal', error: `the hub answered ${event} with something that is not an acknowledgement` };
  } catch (error) {
    // socket.io rejects on timeout; a lost connection looks the same from here.
    return {
      ok: false,
      code: 'unavailable',
      error: `no answer from the hub to ${event} within ${SUBMIT_TIMEOUT_MS} ms (${errorText(error)})`,
    };
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
