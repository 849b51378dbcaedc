import {
  MemoryCredentials,
  MemoryHeadStore,
  Participant,
  ParticipantSession,
  createScenario,
  sameAssignment,
  decodeFrame,
  encodeFrame,
  type Ack,
  type Assignment,
  type ClientToServerEvents,
  type Farewell,
  type HeadStore,
  type LocalData,
  type ParticipantChannel,
  type ParticipantStatus,
  type RoundRecord,
  type ScenarioSpec,
  type ServerToClientEvents,
  type UpdateMeta,
  type UpdateReceipt,
} from '@tabula/core';
import { loadMnist } from '@tabula/core/node';
import { io, type Socket } from 'socket.io-client';

export const ATTACKS = ['nan', 'scale', 'wrong-length', 'stale', 'oversize', 'flood'] as const;
export type Attack = (typeof ATTACKS)[number];

export interface NodeParticipantOptions {
  readonly url: string;
  /** An id to claim (a new process holds no secret for it: the hub gives it only an id nobody holds). */
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
  /** Where its fedrep / fedper heads live between rounds: in memory by default (a new process starts afresh). */
  readonly heads?: HeadStore;
}

export interface NodeParticipant {
  readonly id: string;
  readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  /** One runtime for the participant's whole life, so its personal heads (fedrep, fedper) carry over between rounds. */
  readonly participant: Participant;
  /** The shard it holds now (the hub may assign another when a run on another scenario starts). */
  readonly data: LocalData;
  close(): void;
}

/**
 * A participant in Node over a real socket.io connection, running the same core Participant and
 * ParticipantSession as a browser tab: hello -> (assigned shard) -> hello holding it -> rounds. Reconnects by
 * itself, with the same identity (its secret is kept in memory: a new process is a new participant).
 */
export async function connectParticipant(options: NodeParticipantOptions): Promise<NodeParticipant> {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(options.url, {
    auth: { role: 'participant' },
    transports: ['websocket'],
    reconnectionDelay: 200,
    reconnectionDelayMax: 1000,
    autoConnect: false,
  });
  const credentials = new MemoryCredentials(options.participantId ?? null);
  const wanted = {
    ...(options.scenario ? { scenario: options.scenario } : {}),
    ...(options.assignedIndex !== undefined ? { assignedIndex: options.assignedIndex } : {}),
  };
  /** The shard it holds: none until the hub's first Welcome assigns one. */
  let shard: { assignment: Assignment; data: LocalData } | null = null;
  let maxMessageBytes = 0;
  let mnist: ReturnType<typeof loadMnist> | undefined;
  /** Settles once the hub has welcomed this participant holding its shard, or refused it. */
  let joining: { resolve: () => void; reject: (error: Error) => void } | null = null;
  const joined = new Promise<void>((resolve, reject) => (joining = { resolve, reject }));
  const settle = (error?: Error) => {
    if (error) joining?.reject(error);
    else joining?.resolve();
    joining = null;
  };

  /** Loads a shard and says hello again holding it, so that the hub knows its examples. */
  const hold = (assignment: Assignment) => {
    const { scenario, index } = assignment;
    const data = createScenario(scenario, scenario.name === 'sinusoid' ? undefined : (mnist ??= loadMnist())).participant(index);
    shard = { assignment, data };
    participant.setData(data);
    void session.hello();
  };
  // A participant given its shard keeps it; otherwise it takes what the hub assigns, now and for later runs.
  const follow = (assignment: Assignment) => {
    if (!options.scenario && !sameAssignment(shard?.assignment, assignment)) hold(assignment);
  };
  const session = new ParticipantSession({
    socket,
    credentials,
    reconnectDelayMs: 500,
    hello: () => ({
      backend: options.backend ?? 'node',
      examples: shard ? shard.data.support.count + shard.data.query.count : 0,
      heldOut: shard?.data.heldOut ?? false,
      dataSource: 'assigned',
      // The shard it holds, else the one it was given (the hub picks a free index when none is named).
      ...(shard ? { scenario: shard.assignment.scenario, assignedIndex: shard.assignment.index } : wanted),
    }),
    onWelcome: (welcome) => {
      maxMessageBytes = welcome.maxMessageBytes;
      if (shard) {
        settle();
        if (welcome.assignment) follow(welcome.assignment);
      } else if (welcome.assignment) {
        hold(welcome.assignment);
      } else {
        settle(new Error('the hub assigned no data to this participant'));
      }
    },
    onHelloRefused: (refusal) => settle(new Error(`hub refused hello: ${refusal.error}`)),
    onFarewell: (notice) => options.onFarewell?.(notice),
    onAssign: follow,
    onRoundCancelled: (info) => participant.roundCancelled(info.runId, info.round),
  });
  socket.once('connect_error', (error) => settle(new Error(`cannot connect to ${options.url}: ${error.message}`)));

  const channel: ParticipantChannel = options.attack
    ? attackChannel(
        session,
        socket,
        options.attack,
        () => maxMessageBytes,
        (error) => options.onRejected?.(error),
      )
    : session;
  const participant = new Participant({
    channel: {
      onTask: (handler) => channel.onTask(handler),
      submitEvaluation: (report) => channel.submitEvaluation(report),
      async submitUpdate(meta, frame) {
        const ack = await channel.submitUpdate(meta, frame);
        if (!ack.ok) options.onRejected?.(ack.error);
        return ack;
      },
      // Secure aggregation runs: the same session answers the hub's stages as a tab does.
      submitReady: (ready) => session.submitReady(ready),
      onSecAgg: (handler) => session.onSecAgg(handler),
    },
    data: null,
    heads: options.heads ?? new MemoryHeadStore(),
    onStatus: (status) => {
      options.onStatus?.(status);
      session.reportStatus(status);
    },
    ...(options.onRound ? { onRound: options.onRound } : {}),
  });

  session.connect();
  try {
    await joined;
  } catch (error) {
    session.disconnect();
    throw error;
  }
  participant.start();
  return {
    get id() {
      return credentials.id!;
    },
    socket,
    participant,
    get data() {
      return shard!.data;
    },
    close: () => session.disconnect(),
  };
}

/** Misbehaviours for robustness tests: each turns an honest update into a bad one. */
function attackChannel(
  honest: ParticipantChannel,
  socket: Socket<ServerToClientEvents, ClientToServerEvents>,
  attack: Attack,
  /** The hub's message limit, from its latest Welcome. */
  maxMessageBytes: () => number,
  /** Rejections of the extra messages an attack sends (the participant itself sees only the first). */
  onExtraRejected: (error: string) => void,
): ParticipantChannel {
  const emit = (meta: UpdateMeta, frame: Uint8Array): Promise<Ack<UpdateReceipt>> =>
    socket
      .timeout(10_000)
      .emitWithAck('update:submit', meta, frame)
      .catch((error: unknown) => ({ ok: false as const, error: `no ack: ${error instanceof Error ? error.message : String(error)}` }));
  return {
    onTask: (handler) => honest.onTask(handler),
    submitEvaluation: (report) => honest.submitEvaluation(report),
    async submitUpdate(meta, frame) {
      const { header, values } = decodeFrame(frame);
      const reencode = (v: Float32Array, round = header.round) =>
        encodeFrame({
          kind: 'delta',
          protocolVersion: header.protocolVersion,
          runId: header.runId,
          round,
          modelVersion: header.modelVersion,
          dtype: 'float32',
          values: v,
          allowNonFinite: true,
        });
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
          return emit(meta, new Uint8Array(maxMessageBytes() + 1024));
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
