import {
  PROTOCOL_VERSION,
  Participant,
  createScenario,
  decodeFrame,
  encodeFrame,
  socketChannel,
  type Ack,
  type ClientToServerEvents,
  type Farewell,
  type Hello,
  type LocalData,
  type ParticipantChannel,
  type ParticipantStatus,
  type RoundRecord,
  type ScenarioSpec,
  type ServerToClientEvents,
  type SocketLike,
  type UpdateReceipt,
  type Welcome,
} from '@tabula/core';
import { loadMnist } from '@tabula/core/node';
import { io, type Socket } from 'socket.io-client';

export const ATTACKS = ['nan', 'scale', 'wrong-length', 'stale', 'oversize', 'flood'] as const;
export type Attack = (typeof ATTACKS)[number];

export interface NodeParticipantOptions {
  readonly url: string;
  /** Kept across reconnects, like a tab's localStorage id. */
  readonly participantId?: string;
  /** Ask the hub for a shard (default), or hold this shard of this scenario. */
  readonly scenario?: ScenarioSpec;
  readonly assignedIndex?: number;
  readonly backend?: string;
  readonly attack?: Attack;
  readonly onRound?: (record: RoundRecord) => void;
  readonly onStatus?: (status: ParticipantStatus) => void;
  readonly onRejected?: (error: string) => void;
  /** The hub closed the connection on purpose and asked it not to come back (see Farewell). */
  readonly onFarewell?: (notice: Farewell) => void;
}

export interface NodeParticipant {
  readonly id: string;
  readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  readonly participant: Participant;
  /** The shard it holds now (the hub may assign another when a run on another scenario starts). */
  readonly data: LocalData;
  close(): void;
}

/**
 * A participant in Node over a real socket.io connection, running the same core Participant as a browser
 * tab: hello -> (assigned shard) -> rounds. Reconnects by itself and says hello again with the same id.
 */
export async function connectParticipant(options: NodeParticipantOptions): Promise<NodeParticipant> {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(options.url, { auth: { role: 'participant' }, transports: ['websocket'], reconnectionDelay: 200, reconnectionDelayMax: 1000 });
  let id = options.participantId;
  /** Issued by the hub at the first hello; kept in memory only (a new process is a new participant). */
  let secret: string | undefined;
  let data: LocalData | null = null;
  let scenario = options.scenario;
  let index = options.assignedIndex;

  const hello = async (): Promise<Ack<Welcome>> => {
    const message = (): Hello => ({
      protocolVersion: PROTOCOL_VERSION,
      ...(id ? { participantId: id } : {}),
      ...(id && secret ? { participantSecret: secret } : {}),
      backend: options.backend ?? 'node',
      examples: data ? data.support.count + data.query.count : 0,
      heldOut: data?.heldOut ?? false,
      dataSource: 'assigned',
      ...(index !== undefined ? { assignedIndex: index } : {}),
      ...(scenario ? { scenario } : {}),
    });
    let reply = await socket.timeout(10_000).emitWithAck('participant:hello', message());
    if (!reply.ok && reply.code === 'identity-refused' && id) {
      // Somebody else holds this id now (this process never got its secret): become a new participant.
      id = undefined;
      secret = undefined;
      reply = await socket.timeout(10_000).emitWithAck('participant:hello', message());
    }
    if (reply.ok) {
      id = reply.data.participantId;
      secret = reply.data.participantSecret;
    }
    return reply;
  };

  const welcome = await new Promise<Welcome>((resolve, reject) => {
    const onConnect = async () => {
      try {
        const reply = await hello();
        if (!reply.ok) return reject(new Error(`hub refused hello: ${reply.error}`));
        resolve(reply.data);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    socket.once('connect', () => void onConnect());
    socket.once('connect_error', (error) => reject(new Error(`cannot connect to ${options.url}: ${error.message}`)));
  });
  id = welcome.participantId;
  if (!welcome.assignment) throw new Error('the hub assigned no data to this participant');
  scenario = welcome.assignment.scenario;
  index = welcome.assignment.index;
  let mnist: ReturnType<typeof loadMnist> | undefined;
  const shard = (spec: ScenarioSpec, i: number): LocalData => createScenario(spec, spec.name === 'sinusoid' ? undefined : (mnist ??= loadMnist())).participant(i);
  data = shard(scenario, index);
  // Tell the hub how many examples this participant now holds (and keep saying so after reconnects).
  const announced = await hello();
  if (!announced.ok) throw new Error(`hub refused hello: ${announced.error}`);
  /** What the hub last heard of this participant's state; a reconnect resets it (the hub then says 'waiting'). */
  let lastReported = '';
  socket.on('connect', () => {
    lastReported = '';
    void hello().catch(() => undefined); // no answer: the next reconnect says hello again
  });
  // socket.io never reconnects after the server closed the connection: do so, unless the hub asked not to.
  let farewell: Farewell | null = null;
  let closed = false;
  socket.on('participant:farewell', (notice) => {
    farewell = notice;
    if (!notice.reconnect) options.onFarewell?.(notice);
  });
  socket.on('disconnect', (reason) => {
    if (reason !== 'io server disconnect' || closed || farewell?.reconnect === false) return;
    setTimeout(() => {
      if (!closed && !socket.connected) socket.connect();
    }, 500).unref();
  });

  let channel: ParticipantChannel = socketChannel(socket as unknown as SocketLike, { maxMessageBytes: welcome.maxMessageBytes });
  if (options.attack) channel = attackChannel(channel, socket, options.attack, welcome.maxMessageBytes, (error) => options.onRejected?.(error));
  const reporting: ParticipantChannel = {
    onTask: channel.onTask,
    async submitUpdate(meta, frame) {
      const ack = await channel.submitUpdate(meta, frame);
      if (!ack.ok) options.onRejected?.(ack.error);
      return ack;
    },
    submitEvaluation: channel.submitEvaluation,
  };
  const participant = new Participant({
    channel: reporting,
    data,
    onStatus: (status) => {
      options.onStatus?.(status);
      // Like a tab, tell the hub only what changed: not every training step (hundreds a second on wasm).
      const key = `${status.state}/${status.round ?? ''}/${status.message ?? ''}`;
      if (key === lastReported || !socket.connected) return;
      lastReported = key;
      socket.emit('participant:status', { state: status.state, ...(status.round !== undefined ? { round: status.round } : {}), ...(status.message ? { message: status.message } : {}) });
    },
    ...(options.onRound ? { onRound: options.onRound } : {}),
  });
  participant.start();
  // A run on another scenario: take the shard the hub offers, unless this participant was given one.
  if (!options.scenario) {
    socket.on('participant:assign', (assignment) => {
      scenario = assignment.scenario;
      index = assignment.index;
      data = shard(assignment.scenario, assignment.index);
      participant.setData(data);
      void hello();
    });
  }
  return {
    get id() {
      return id!;
    },
    socket,
    participant,
    get data() {
      return data!;
    },
    close: () => {
      closed = true;
      socket.disconnect();
    },
  };
}

/** Misbehaviours for robustness tests: each turns an honest update into a bad one. */
function attackChannel(
  honest: ParticipantChannel,
  socket: Socket<ServerToClientEvents, ClientToServerEvents>,
  attack: Attack,
  maxMessageBytes: number,
  /** Rejections of the extra messages an attack sends (the participant itself sees only the first). */
  onExtraRejected: (error: string) => void,
): ParticipantChannel {
  const emit = (meta: unknown, frame: Uint8Array): Promise<Ack<UpdateReceipt>> =>
    socket
      .timeout(10_000)
      .emitWithAck('update:submit', meta as never, frame)
      .catch((error: unknown) => ({ ok: false as const, error: `no ack: ${error instanceof Error ? error.message : String(error)}` }));
  return {
    onTask: honest.onTask,
    submitEvaluation: honest.submitEvaluation,
    async submitUpdate(meta, frame) {
      const { header, values } = decodeFrame(frame);
      const reencode = (v: Float32Array, round = header.round) =>
        encodeFrame({ kind: 'delta', protocolVersion: header.protocolVersion, runId: header.runId, round, modelVersion: header.modelVersion, dtype: 'float32', values: v, allowNonFinite: true });
      switch (attack) {
        case 'nan':
          values[0] = Number.NaN;
          return emit(meta, reencode(values));
        case 'scale':
          return emit(meta, reencode(values.map((v) => v * 1e6)));
        case 'wrong-length':
          return emit(meta, reencode(values.subarray(0, values.length - 1)));
        case 'stale':
          return emit({ ...meta, round: meta.round - 1, modelVersion: meta.modelVersion - 1 }, reencode(values, header.round - 1));
        case 'oversize':
          // Bigger than the hub's socket.io limit: socket.io drops the connection; the hub must shrug it off.
          return emit(meta, new Uint8Array(maxMessageBytes + 1024));
        case 'flood': {
          const first = await emit(meta, frame);
          for (let i = 0; i < 20; i++) {
            const extra = await emit(meta, frame);
            if (!extra.ok) onExtraRejected(extra.error);
          }
          return first;
        }
        default: {
          const unknown: never = attack;
          throw new Error(`unknown attack ${String(unknown)}`);
        }
      }
    },
  };
}
