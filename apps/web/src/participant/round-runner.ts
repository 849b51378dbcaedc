import {
  Participant,
  PROTOCOL_VERSION,
  decodeFrame,
  parameterCount,
  socketChannel,
  type LocalData,
  type ParticipantChannel,
  type ParticipantStatus,
  type RoundRecord,
  type RoundTask,
  type SocketLike,
} from '@tabula/core';
import { errorMessage } from '../shared/dom.js';
import type { HubSocket } from '../shared/socket-types.js';
import type { ModelSnapshot } from './try-it.js';
import { createYielder } from './yield.js';

export interface RoundRunnerEvents {
  onStatus(status: ParticipantStatus): void;
  onRound(record: RoundRecord, history: readonly RoundRecord[]): void;
  /** The latest global model, for "Try it". */
  onModel(snapshot: ModelSnapshot): void;
  /** Awaited before each task: switches the backend when this one cannot train the task's model. */
  prepare(task: RoundTask): Promise<void>;
}


/**
 * Runs round tasks from the hub one at a time with core's Participant runtime. Updates go through
 * socketChannel, rebuilt with each Welcome's message limit; the local data can change between rounds.
 */
export class RoundRunner {
  private participant: Participant | null = null;
  private submit: ParticipantChannel | null = null;
  private queue: Promise<void> = Promise.resolve();
  private data: LocalData | null = null;
  readonly history: RoundRecord[] = [];

  constructor(
    private readonly socket: HubSocket,
    private readonly events: RoundRunnerEvents,
  ) {
    // One listener for the page's life: reconnects keep it, a new Welcome does not add another.
    socketChannel(socket as unknown as SocketLike, { maxMessageBytes: Number.MAX_SAFE_INTEGER }).onTask((task, weights) => {
      this.queue = this.queue.then(() => this.run(task, weights));
    });
  }

  /** A Welcome arrived: submit with its message limit from now on. */
  welcome(maxMessageBytes: number): void {
    this.submit = socketChannel(this.socket as unknown as SocketLike, { maxMessageBytes });
  }

  /** New local data (or none): used from the next round on. */
  setData(data: LocalData | null): void {
    this.data = data;
    if (data) this.participant?.setData(data);
  }

  private ensureParticipant(data: LocalData): Participant {
    if (this.participant) return this.participant;
    const channel: ParticipantChannel = {
      onTask: () => () => undefined, // tasks come through run(), not the participant's own listener
      submitUpdate: (meta, frame) => this.channel().submitUpdate(meta, frame),
      submitEvaluation: (report) => this.channel().submitEvaluation(report),
    };
    this.participant = new Participant({
      channel,
      data,
      onStatus: (status) => this.events.onStatus(status),
      onRound: (record) => {
        this.history.push(record);
        this.events.onRound(record, this.history);
      },
      yieldToUi: createYielder(),
    });
    return this.participant;
  }

  private channel(): ParticipantChannel {
    if (!this.submit) throw new Error('not welcomed by the hub yet');
    return this.submit;
  }

  private async run(task: RoundTask, weights: ArrayBuffer | Uint8Array): Promise<void> {
    const data = this.data;
    if (!data) {
      this.events.onStatus({ state: 'error', round: task.round, message: 'a round arrived but this tab has no local data yet' });
      return;
    }
    try {
      await this.events.prepare(task);
      this.keepModel(task, weights);
      await this.ensureParticipant(data).handleTask(task, weights);
    } catch (error) {
      // The participant already reported its own failures; this covers prepare().
      this.events.onStatus({ state: 'error', round: task.round, message: errorMessage(error) });
    }
  }

  private keepModel(task: RoundTask, weights: ArrayBuffer | Uint8Array): void {
    try {
      const { values } = decodeFrame(weights, {
        kind: 'weights',
        protocolVersion: PROTOCOL_VERSION,
        runId: task.runId,
        round: task.round,
        modelVersion: task.modelVersion,
        length: parameterCount(task.model),
      });
      this.events.onModel({ key: `${task.runId}/${task.round}/${task.modelVersion}`, spec: task.model, hyper: task.hyper, weights: values });
    } catch {
      // handleTask decodes the same frame and reports what is wrong with it
    }
  }
}
