import { clipToNorm, l2Norm, type FitBatch, type FitFailure, type Strategy } from '../aggregate/index.js';
import {
  EvaluationReportSchema,
  PROTOCOL_VERSION,
  UpdateMetaSchema,
  UpdateReadySchema,
  parseOrError,
  type Ack,
  type AckErrorCode,
  type Evaluation,
  type RoundMetrics,
  type UpdateReceipt,
} from '../protocol.js';
import { decodeFrame } from '../wire/index.js';
import { systemClock, type Clock } from './clock.js';
import { roundMetrics, type RoundEvaluation, type RoundShare } from './round-share.js';

export interface RoundCollectorOptions {
  readonly runId: string;
  readonly round: number;
  readonly modelVersion: number;
  /** Participants asked to train this round. */
  readonly trainers: readonly string[];
  /** Held-out participants asked only to evaluate. */
  readonly evaluators: readonly string[];
  /** The run's batch of valid updates: the collector empties it and is its only writer while the round is open. */
  readonly fits: FitBatch;
  /** Clips each delta to its `clipNorm`, and averages the round's metrics. */
  readonly strategy: Strategy;
  /** Clock time after which updates are late and `settled` resolves with 'deadline'; Infinity for none. */
  readonly deadline: number;
  readonly maxUpdateNorm?: number;
  /** Largest example count one update may claim (a participant inflating its FedAvg weight). */
  readonly maxExamples?: number;
  /** The run's evaluation metric (accuracy for classification, mse for regression): reports in another are refused. */
  readonly metric?: Evaluation['metric'];
  /** A differentially private run: acks say 0 received, since the count would tell who else was sampled. */
  readonly hideCounts?: boolean;
  /**
   * A secure aggregation run: trainers announce a trained update with `submitReady` and keep it until the reporting
   * phase; an update sent in the clear is refused.
   */
  readonly secure?: boolean;
  readonly clock?: Clock;
}

/** Why a round stopped collecting: everyone answered, its deadline passed, or it was closed (stopped, abandoned). */
export type RoundSettlement = 'complete' | 'deadline' | 'closed';

type Answer = { kind: 'fit' } | { kind: 'ready' } | { kind: 'evaluation' } | { kind: 'failure'; reason: string };

const refuse = (code: AckErrorCode, error: string): Ack<UpdateReceipt> => ({ ok: false, code, error });

/**
 * One round on the hub side, independent of transport, and the hub's one trust boundary for updates: it checks
 * each where it arrives (address, selection, deadline, example count, frame length, finiteness, norm bound), clips
 * it to the strategy's `clipNorm`, and folds it into the run's `FitBatch` (memory O(parameters)). Layers inside
 * (accumulators, strategies, optimizers) only assert. An invalid update gets an error ack with a code and changes
 * nothing. `settled` resolves once the round can end. The hub and the in-process simulation both use it, through
 * the round engine.
 */
export class RoundCollector {
  readonly fits: FitBatch;
  readonly failures: FitFailure[] = [];
  /** Resolves once: every participant answered, the deadline passed, or `close` was called. */
  readonly settled: Promise<RoundSettlement>;
  private settle!: (outcome: RoundSettlement) => void;
  private readonly cancelDeadline: () => void;
  private readonly evaluations: RoundEvaluation[] = [];
  private readonly answers = new Map<string, Answer>();
  private readonly trainers: ReadonlySet<string>;
  private readonly evaluators: ReadonlySet<string>;
  private readonly clock: Clock;
  private closedBecause: string | null = null;
  bytesUp = 0;

  constructor(private readonly options: RoundCollectorOptions) {
    this.fits = options.fits;
    this.fits.reset();
    this.trainers = new Set(options.trainers);
    this.evaluators = new Set(options.evaluators);
    this.clock = options.clock ?? systemClock();
    let resolve!: (outcome: RoundSettlement) => void;
    this.settled = new Promise((r) => (resolve = r));
    let settled = false;
    this.settle = (outcome) => {
      if (settled) return;
      settled = true;
      this.cancelDeadline();
      resolve(outcome);
    };
    const wait = options.deadline - this.clock.now();
    this.cancelDeadline = Number.isFinite(wait) ? this.clock.setTimer(wait, () => this.settle('deadline')) : () => undefined;
    if (this.complete) this.settle('complete');
  }

  /** Every trainer and evaluator has answered (or failed). */
  get complete(): boolean {
    for (const id of this.trainers) if (!this.answers.has(id)) return false;
    for (const id of this.evaluators) if (!this.answers.has(id)) return false;
    return true;
  }

  /** Participants still expected to answer. */
  get pending(): string[] {
    return [...this.trainers, ...this.evaluators].filter((id) => !this.answers.has(id));
  }

  /** Trainers that announced a trained update (a secure aggregation run), in the order they did. */
  get ready(): string[] {
    return [...this.answers].filter(([, a]) => a.kind === 'ready').map(([id]) => id);
  }

  /** A secure aggregation run's trainer has its update ready: the hub asks for it, masked, in the reporting phase. */
  submitReady(participantId: string, raw: unknown): Ack<UpdateReceipt> {
    const parsed = parseOrError(UpdateReadySchema, raw);
    if (!parsed.ok) return refuse('invalid', `malformed update:ready: ${parsed.error}`);
    if (!this.options.secure)
      return refuse('invalid', `run ${this.options.runId} does not use secure aggregation: submit the update itself`);
    const refusal = this.checkAddress(parsed.data) ?? this.checkTrainer(participantId);
    if (refusal) return refusal;
    this.answers.set(participantId, { kind: 'ready' });
    this.settleIfComplete();
    // The count would tell a participant how many others are in its group, which the hub keeps to itself here too.
    return { ok: true, data: { round: this.options.round, received: 0 } };
  }

  submitUpdate(participantId: string, rawMeta: unknown, frame: unknown): Ack<UpdateReceipt> {
    const { round, modelVersion, runId } = this.options;
    if (this.options.secure)
      return refuse('invalid', `run ${runId} uses secure aggregation: announce the update with update:ready, and mask it when asked`);
    const parsed = parseOrError(UpdateMetaSchema, rawMeta);
    if (!parsed.ok) return refuse('invalid', `malformed update: ${parsed.error}`);
    const meta = parsed.data;
    const stale = this.checkAddress(meta) ?? this.checkTrainer(participantId);
    if (stale) return stale;
    if (!(frame instanceof Uint8Array) && !(frame instanceof ArrayBuffer))
      return refuse('invalid-frame', 'update frame must be binary (ArrayBuffer or Uint8Array)');
    if (this.options.maxExamples !== undefined && meta.numExamples > this.options.maxExamples) {
      return refuse('too-many-examples', `update claims ${meta.numExamples} examples; at most ${this.options.maxExamples} are accepted`);
    }
    const badEvaluation = meta.evaluation && this.checkEvaluation(meta.evaluation);
    if (badEvaluation) return badEvaluation;
    // The frame must carry what its metadata says: the address was checked against the open round above.
    const expect = { kind: 'delta', protocolVersion: PROTOCOL_VERSION, runId, round, modelVersion, length: this.fits.length } as const;
    const reject = (error: unknown) =>
      refuse('invalid-frame', `invalid update frame: ${error instanceof Error ? error.message : String(error)}`);
    const bound = this.options.maxUpdateNorm;
    const clip = this.options.strategy.clipNorm;
    const result = { participantId, numExamples: meta.numExamples, metrics: { loss: meta.loss, trainMs: meta.trainMs } };
    let values: Float32Array;
    try {
      // A view on the received bytes. Without a norm to take, NaN/Infinity are caught in the same pass that folds
      // the values; a norm needs finite values first, so then the decoder checks them.
      values = decodeFrame(frame, expect, { view: true, skipFiniteCheck: bound === undefined && clip === undefined }).values;
    } catch (error) {
      return reject(error);
    }
    if (bound !== undefined || clip !== undefined) {
      const norm = l2Norm(values);
      if (bound !== undefined && !(norm <= bound))
        return refuse('invalid-frame', `update norm ${norm.toPrecision(4)} exceeds this run's bound of ${bound}`);
      this.fits.add(clip === undefined ? values : clipToNorm(values, clip), result);
    } else if (!this.fits.addIfFinite(values, result)) {
      try {
        decodeFrame(frame, expect); // the slow path, only for bad input: names the first non-finite value
      } catch (error) {
        return reject(error);
      }
      return reject(new Error('frame carries a non-finite value'));
    }
    this.answers.set(participantId, { kind: 'fit' });
    this.bytesUp += frame.byteLength;
    if (meta.evaluation) this.addEvaluation(participantId, meta.evaluation, false);
    this.settleIfComplete();
    return { ok: true, data: { round, received: this.receivedSoFar } };
  }

  submitEvaluation(participantId: string, rawReport: unknown): Ack<UpdateReceipt> {
    const parsed = parseOrError(EvaluationReportSchema, rawReport);
    if (!parsed.ok) return refuse('invalid', `malformed evaluation: ${parsed.error}`);
    const stale = this.checkAddress(parsed.data);
    if (stale) return stale;
    if (!this.evaluators.has(participantId))
      return refuse('not-selected', `participant ${participantId} was not asked to evaluate round ${this.options.round}`);
    if (this.answers.has(participantId))
      return refuse('duplicate', `duplicate evaluation: participant ${participantId} already answered round ${this.options.round}`);
    const badEvaluation = this.checkEvaluation(parsed.data.evaluation);
    if (badEvaluation) return badEvaluation;
    this.answers.set(participantId, { kind: 'evaluation' });
    this.addEvaluation(participantId, parsed.data.evaluation, true);
    this.settleIfComplete();
    return { ok: true, data: { round: this.options.round, received: this.receivedSoFar } };
  }

  /** A participant that will not answer (it disconnected, or reported an error). */
  fail(participantId: string, reason: string): void {
    if (this.answers.has(participantId) || (!this.trainers.has(participantId) && !this.evaluators.has(participantId))) return;
    this.answers.set(participantId, { kind: 'failure', reason });
    if (this.trainers.has(participantId)) this.failures.push({ participantId, reason });
    this.settleIfComplete();
  }

  /**
   * Later submissions are refused with this reason (the round finished or was abandoned). Returns the participants
   * that were still working on it: the round is abandoned for them.
   */
  close(reason: string): string[] {
    this.closedBecause ??= reason;
    this.settle('closed');
    const abandoned = this.pending;
    for (const id of abandoned) this.fail(id, reason);
    return abandoned;
  }

  /** Whether a participant was sent work this round and answered it (an update or an evaluation was accepted). */
  answered(participantId: string): boolean {
    const answer = this.answers.get(participantId);
    return answer !== undefined && answer.kind !== 'failure';
  }

  /** Example-weighted means over what arrived: trainers and held-out participants separately. */
  metrics(): RoundMetrics {
    return roundMetrics(this.options.strategy, this.options.round, this.fits.results, this.evaluations);
  }

  /** What this collector holds, as one hub's share of a round across hubs (the rule must be a sum: FedAvg). */
  share(): RoundShare {
    const { partial, results } = this.fits.partial();
    return { partial, results, evaluations: [...this.evaluations], failures: [...this.failures], bytesUp: this.bytesUp };
  }

  private get receivedSoFar(): number {
    return this.options.hideCounts ? 0 : this.fits.count;
  }

  private settleIfComplete(): void {
    if (this.complete) this.settle('complete');
  }

  /** A trainer of this round that has not answered yet, before the deadline. */
  private checkTrainer(participantId: string): Ack<UpdateReceipt> | null {
    const round = this.options.round;
    if (!this.trainers.has(participantId))
      return refuse('not-selected', `participant ${participantId} was not selected to train in round ${round}`);
    if (this.answers.has(participantId))
      return refuse('duplicate', `duplicate update: participant ${participantId} already answered round ${round}`);
    if (this.clock.now() > this.options.deadline) return refuse('late', `late update: round ${round} closed at its deadline`);
    return null;
  }

  private checkAddress(address: { runId: string; round: number; modelVersion: number }): Ack<UpdateReceipt> | null {
    const { runId, round, modelVersion } = this.options;
    if (this.closedBecause) return refuse('late', `round ${round} of run ${runId} is closed (${this.closedBecause})`);
    if (address.runId !== runId) return refuse('stale', `stale: this is for run ${address.runId}, but run ${runId} is active`);
    if (address.round !== round || address.modelVersion !== modelVersion) {
      return refuse(
        'stale',
        `stale: this is for round ${address.round} (model version ${address.modelVersion}), but round ${round} (model version ${modelVersion}) is open`,
      );
    }
    return null;
  }

  /** The schema bounds every figure; what only the run knows is checked here. */
  private checkEvaluation(evaluation: Evaluation): Ack<UpdateReceipt> | null {
    const { metric, maxExamples } = this.options;
    if (metric !== undefined && evaluation.metric !== metric)
      return refuse('invalid', `evaluation reports ${evaluation.metric}, but this run measures ${metric}`);
    if (maxExamples !== undefined && evaluation.testExamples > maxExamples) {
      return refuse('too-many-examples', `evaluation claims ${evaluation.testExamples} test examples; at most ${maxExamples} are accepted`);
    }
    return null;
  }

  private addEvaluation(participantId: string, evaluation: Evaluation, heldOut: boolean): void {
    this.evaluations.push({
      participantId,
      numExamples: evaluation.testExamples,
      metrics: { before: evaluation.before, after: evaluation.after },
      heldOut,
    });
  }
}
