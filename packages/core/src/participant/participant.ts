import { clipToNorm } from '../aggregate/norm.js';
import type { Examples, TrainingData } from '../data/dataset.js';
import { clientUpdate, plannedSteps, type ClientUpdateInput, type ClientUpdateResult } from '../learn/client-update.js';
import { adaptationCurve, headline } from '../learn/evaluate.js';
import { federatedLength, federatedSegments, keepsHead } from '../learn/federated-layout.js';
import { startingHead } from '../learn/imprint.js';
import { localModel } from '../learn/local-model.js';
import {
  PROTOCOL_VERSION,
  type Ack,
  type Evaluation,
  type EvaluationReport,
  type ParticipantState,
  type RoundTask,
  type UpdateMeta,
  type UpdateReady,
  type UpdateReceipt,
} from '../protocol.js';
import { cryptoRandomSource } from '../privacy/random-source.js';
import { SecureContribution, secureInput } from '../secagg/contribution.js';
import type { SecAggAnswers, SecAggStage } from '../secagg/messages.js';
import { decodeFrame, ErrorFeedback, frameByteLength } from '../wire/index.js';

/**
 * How a participant talks to its hub: the browser wraps a socket.io socket, the simulation a function
 * call. Tasks arrive through `onTask`; the participant answers with an update frame or an evaluation.
 */
export interface ParticipantChannel {
  /** Registers the task handler; returns a function that unregisters it. */
  onTask(handler: (task: RoundTask, weights: Uint8Array | ArrayBuffer) => void): () => void;
  submitUpdate(meta: UpdateMeta, frame: Uint8Array): Promise<Ack<UpdateReceipt>>;
  submitEvaluation(report: EvaluationReport): Promise<Ack<UpdateReceipt>>;
  /** A secure aggregation run: announces a trained update; the hub then asks for it, masked, stage by stage. */
  submitReady?(ready: UpdateReady): Promise<Ack<UpdateReceipt>>;
  /** Registers who answers the hub's secure aggregation stages; returns a function that unregisters it. */
  onSecAgg?(handler: SecAggHandler): () => void;
}

/** Answers one secure aggregation stage's request (untrusted: validated by the answerer). */
export type SecAggHandler = <S extends SecAggStage>(stage: S, request: unknown) => Promise<Ack<SecAggAnswers[S]>>;

/** A participant's local data: it adapts on `support`, meta-trains on `support` + `query`, scores on `test`. */
export interface LocalData {
  readonly support: Examples;
  readonly query: Examples;
  readonly test: Examples;
  /** Held-out meta-test participants evaluate but never upload updates. */
  readonly heldOut: boolean;
  /** Validation participants neither (a hub never selects them; should a task come, they only evaluate). */
  readonly validation?: boolean;
  /** Fresh training data for a round (see ParticipantData.trainingData); absent: `support` and `query` every round. */
  readonly trainingData?: (round: number) => TrainingData;
}

/**
 * Where a fedrep / fedper participant keeps its personal head between rounds, per run: a tab in IndexedDB (it
 * survives a reload), a Node participant or a simulated one in memory (MemoryHeadStore, the default).
 */
export interface HeadStore {
  load(runId: string): Promise<Float32Array | null>;
  save(runId: string, head: Float32Array): Promise<void>;
}

/** Heads in memory, for the last `runs` runs (a long-lived Node participant sees one run after another). */
export class MemoryHeadStore implements HeadStore {
  private readonly heads = new Map<string, Float32Array>();
  constructor(private readonly runs = 4) {}
  load(runId: string): Promise<Float32Array | null> {
    return Promise.resolve(this.heads.get(runId) ?? null);
  }
  save(runId: string, head: Float32Array): Promise<void> {
    this.heads.delete(runId);
    this.heads.set(runId, head);
    for (const oldest of this.heads.keys()) {
      if (this.heads.size <= this.runs) break;
      this.heads.delete(oldest);
    }
    return Promise.resolve();
  }
}

export interface ParticipantStatus {
  readonly state: ParticipantState;
  readonly round?: number;
  /** Local steps done / planned while training. */
  readonly step?: number;
  readonly totalSteps?: number;
  /** The reason, when state is 'error'. */
  readonly message?: string;
  /** A secure aggregation run, after training: the stage the hub asked for last (its update is masked). */
  readonly secureStage?: SecAggStage | 'waiting';
}

/** What one round did, as the tab shows it in its history. */
export interface RoundRecord {
  readonly runId: string;
  readonly round: number;
  readonly mode: RoundTask['mode'];
  readonly evaluation?: Evaluation;
  readonly loss?: number;
  readonly trainMs?: number;
  readonly bytesDown: number;
  readonly bytesUp: number;
  /** The hub's answer: accepted, or why not. */
  readonly accepted: boolean;
  readonly error?: string;
}

export interface ParticipantOptions {
  readonly channel: ParticipantChannel;
  /** None yet (a tab before its data arrives): a task fails with the reason until `setData`. */
  readonly data: LocalData | null;
  readonly onStatus?: (status: ParticipantStatus) => void;
  readonly onRound?: (record: RoundRecord) => void;
  /** Awaited before each task (a tab switches to a backend that can train the task's model). */
  readonly prepare?: (task: RoundTask) => Promise<void>;
  /** The global weights of each task, decoded (read-only: training starts from them too). */
  readonly onWeights?: (task: RoundTask, weights: Float32Array) => void;
  /** Awaited after each local step; a browser passes a frame wait so its progress bar repaints. */
  readonly yieldToUi?: () => Promise<void>;
  /** Clock for training time; injectable for tests. */
  readonly now?: () => number;
  /** Computes the local update; clientUpdate (TF.js) by default, the simulation's fast engine there. */
  readonly clientUpdate?: (input: ClientUpdateInput) => Promise<ClientUpdateResult>;
  /** Computes evaluations; adaptationCurve (TF.js) by default, the simulation's fast engine there. */
  readonly adaptationCurve?: typeof adaptationCurve;
  /** Keeps fedrep / fedper heads between rounds; a MemoryHeadStore by default. */
  readonly heads?: HeadStore;
}

/**
 * The participant runtime shared by browser tabs, Node swarms and the in-process simulation: decode the
 * global weights, evaluate them before and after local adaptation, run the configured client update, and
 * upload the delta in the configured codec (keeping the quantization error for the next round).
 */
export class Participant {
  private data: LocalData | null;
  private feedback: { key: string; ef: ErrorFeedback } | null = null;
  private busy: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;
  private readonly heads: HeadStore;
  /** A secure aggregation run: the trained update, as ring words, until the hub's stages are answered. */
  private contribution: SecureContribution | null = null;
  private paused = false;
  readonly history: RoundRecord[] = [];

  constructor(private readonly options: ParticipantOptions) {
    this.data = options.data;
    this.heads = options.heads ?? new MemoryHeadStore();
    this.now = options.now ?? (() => (typeof performance !== 'undefined' ? performance.now() : Date.now()));
  }

  /** Listens for tasks; returns a function that stops listening. Until a task, the state is the caller's to tell. */
  start(): () => void {
    const { channel } = this.options;
    const stopTasks = channel.onTask((task, weights) => {
      // One task at a time: a tab that is still training queues the next round instead of interleaving. Paused (when
      // it arrives, or by its turn), it trains nothing: the hub heard 'paused' and stopped waiting for this tab.
      this.busy = this.busy.then(() => (this.paused ? undefined : this.handleTask(task, weights))).catch(() => undefined);
    });
    const stopSecAgg = channel.onSecAgg?.((stage, request) => this.answerSecAgg(stage, request));
    return () => {
      stopTasks();
      stopSecAgg?.();
    };
  }

  /**
   * Answers a secure aggregation stage about the update this participant trained last (the hub's request is checked
   * against it). Not queued behind tasks: the stages come while the next round may already be training.
   */
  async answerSecAgg<S extends SecAggStage>(stage: S, request: unknown): Promise<Ack<SecAggAnswers[S]>> {
    const contribution = this.contribution;
    if (!contribution) return { ok: false, code: 'stale', error: `secure aggregation ${stage}: this participant holds no trained update` };
    const { round } = contribution.address;
    this.status({ state: 'uploading', round, secureStage: stage });
    const answer = await contribution.answer(stage, request);
    if (contribution.stage === 'done') {
      if (this.contribution === contribution) this.contribution = null;
      this.status({ state: 'done', round });
    } else if (!answer.ok && stage !== 'advertise') {
      this.status({ state: 'error', round, message: answer.error });
    }
    return answer;
  }

  /**
   * The round was abandoned (the hub stopped it, or secure aggregation aborted): forget what it was to contribute.
   * True when a masked contribution was waiting for it (the caller shows the tab idle again).
   */
  roundCancelled(runId: string, round: number): boolean {
    const address = this.contribution?.address;
    if (address?.runId !== runId || address.round !== round) return false;
    this.contribution = null;
    return true;
  }

  /**
   * The person at the tab paused taking part (or a limit they set did): tasks that still arrive, sent before the hub
   * heard, are declined untrained; a round already training finishes. Resuming takes tasks again.
   */
  setPaused(paused: boolean): void {
    this.paused = paused;
  }

  /** Replaces the local data (a user drew more digits, or too few are left); the next round uses it. */
  setData(data: LocalData | null): void {
    this.data = data;
  }

  async handleTask(task: RoundTask, weights: Uint8Array | ArrayBuffer): Promise<RoundRecord> {
    const { channel } = this.options;
    const data = this.data;
    const bytesDown = weights.byteLength;
    try {
      if (!data) throw new Error('a round arrived but this participant has no local data yet');
      await this.options.prepare?.(task);
      this.status({ state: 'downloading', round: task.round });
      const length = federatedLength(task.model, task.algorithm);
      const { values: global } = decodeFrame(weights, {
        kind: 'weights',
        protocolVersion: PROTOCOL_VERSION,
        runId: task.runId,
        round: task.round,
        modelVersion: task.modelVersion,
        length,
      });
      this.options.onWeights?.(task, global);

      // Under a personal head: its own, or (a newcomer) one imprinted from its support set (learn/imprint.ts).
      let head: Float32Array | null = null;
      if (keepsHead(task.algorithm)) {
        const body = localModel(task.model, task.algorithm, global).weights;
        ({ head } = await startingHead(task.model, body, await this.heads.load(task.runId), data.support));
      }
      const evaluateOnly = task.mode === 'evaluate' || data.heldOut || data.validation === true;
      const evaluation = evaluateOnly || task.evaluate ? await this.evaluate(task, global, head, data) : undefined;

      // A diverged adaptation (NaN or infinite metric) has no number the hub could record: it is kept out of the update,
      // which still counts, and an evaluate-only task fails with the reason instead of sending it.
      const reportable = evaluation && Number.isFinite(evaluation.before) && Number.isFinite(evaluation.after) ? evaluation : undefined;
      if (evaluateOnly) {
        if (!evaluation) throw new Error('unreachable: evaluate-only tasks always evaluate');
        if (!reportable)
          throw new Error(`adaptation diverged: ${evaluation.metric} ${evaluation.before} before, ${evaluation.after} after`);
        this.status({ state: 'uploading', round: task.round });
        const ack = await channel.submitEvaluation({ runId: task.runId, round: task.round, modelVersion: task.modelVersion, evaluation });
        return this.finish({
          runId: task.runId,
          round: task.round,
          mode: 'evaluate',
          evaluation,
          bytesDown,
          bytesUp: 0,
          ...ackFields(ack),
        });
      }

      const { support, query } = data.trainingData?.(task.round) ?? data;
      const totalSteps = plannedSteps(task.algorithm, task.hyper, support.count + query.count);
      this.status({ state: 'training', round: task.round, step: 0, totalSteps });
      const started = this.now();
      const update = await (this.options.clientUpdate ?? clientUpdate)({
        spec: task.model,
        algorithm: task.algorithm,
        hyper: task.hyper,
        global,
        support,
        query,
        head,
        seed: task.seed,
        onProgress: async (step, total) => {
          this.status({ state: 'training', round: task.round, step, totalSteps: total });
          await this.options.yieldToUi?.();
        },
      });
      const trainMs = this.now() - started;
      // The head stays here whatever the hub answers: it was fitted on this participant's data, for this participant.
      if (update.head) await this.heads.save(task.runId, update.head);

      this.status({ state: 'uploading', round: task.round });
      let ack: Ack<UpdateReceipt>;
      let bytesUp: number;
      let next: ParticipantStatus | undefined;
      if (task.secureAggregation) {
        // Nothing of this update leaves in the clear: its example count and metrics travel as masked extras.
        if (!channel.submitReady) throw new Error("this participant's connection cannot take part in secure aggregation");
        const address = { runId: task.runId, round: task.round, modelVersion: task.modelVersion };
        const { words } = secureInput(
          update.delta,
          { numExamples: update.numExamples, loss: update.loss, evaluation: reportable },
          task.secureAggregation,
          cryptoRandomSource,
        );
        this.contribution = new SecureContribution(address, words);
        ack = await channel.submitReady(address);
        if (!ack.ok) this.contribution = null;
        // What the masked frame will weigh: as a float32 delta with the extras, in one segment.
        bytesUp = frameByteLength(words.length, 'float32', 1, task.runId);
        next = { state: 'uploading', round: task.round, secureStage: 'waiting' };
      } else {
        // A differentially private run: the contribution is bounded here already, whatever the hub does (it clips again).
        const delta = task.clip === undefined ? update.delta : clipToNorm(update.delta, task.clip);
        const frame = this.errorFeedback(task, length).encode(delta, {
          kind: 'delta',
          protocolVersion: PROTOCOL_VERSION,
          runId: task.runId,
          round: task.round,
          modelVersion: task.modelVersion,
          dtype: task.codec,
          segments: federatedSegments(task.model, task.algorithm),
        });
        const meta: UpdateMeta = {
          runId: task.runId,
          round: task.round,
          modelVersion: task.modelVersion,
          numExamples: update.numExamples,
          loss: update.loss,
          trainMs,
          ...(reportable ? { evaluation: reportable } : {}),
        };
        ack = await channel.submitUpdate(meta, frame);
        bytesUp = frame.byteLength;
      }
      return this.finish(
        {
          runId: task.runId,
          round: task.round,
          mode: 'fit',
          ...(evaluation ? { evaluation } : {}),
          loss: update.loss,
          trainMs,
          bytesDown,
          bytesUp,
          ...ackFields(ack),
        },
        next,
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.status({ state: 'error', round: task.round, message });
      throw error;
    }
  }

  /**
   * The global model's metric on the test set, before and after `adaptSteps` steps on the support set. Under a
   * personal head: the global body with this participant's head (one imprinted from its support set, or a fresh one
   * for regression, if it has none), the head alone adapting.
   */
  private async evaluate(task: RoundTask, global: Float32Array, head: Float32Array | null, data: LocalData): Promise<Evaluation> {
    this.status({ state: 'evaluating', round: task.round });
    const adaptSteps = task.hyper.adaptSteps;
    const { weights, rates, adaptFrom } = localModel(task.model, task.algorithm, global, head);
    const curve = await (this.options.adaptationCurve ?? adaptationCurve)(task.model, weights, data.support, data.test, {
      steps: [0, adaptSteps],
      lr: task.hyper.innerLr,
      rates,
      adaptFrom,
      ...(this.options.yieldToUi ? { onStep: this.options.yieldToUi } : {}),
    });
    return {
      metric: task.model.task === 'regression' ? 'mse' : 'accuracy',
      before: headline(curve.scores[0]!),
      after: headline(curve.scores[curve.scores.length - 1]!),
      adaptSteps,
      testExamples: data.test.count,
    };
  }

  /** One error-feedback memory per run and model size: a new run or model starts from zero residual. */
  private errorFeedback(task: RoundTask, length: number): ErrorFeedback {
    const key = `${task.runId}/${length}`;
    if (this.feedback?.key !== key) this.feedback = { key, ef: new ErrorFeedback(length) };
    return this.feedback.ef;
  }

  /** Records a round; `next` is the state after an accepted answer ('done' unless more is to come). */
  private finish(record: RoundRecord, next: ParticipantStatus = { state: 'done', round: record.round }): RoundRecord {
    this.history.push(record);
    this.options.onRound?.(record);
    this.status(record.accepted ? next : { state: 'error', round: record.round, message: record.error ?? 'rejected' });
    return record;
  }

  private status(status: ParticipantStatus): void {
    this.options.onStatus?.(status);
  }
}

function ackFields(ack: Ack<UpdateReceipt>): { accepted: boolean; error?: string } {
  return ack.ok ? { accepted: true } : { accepted: false, error: ack.error };
}
