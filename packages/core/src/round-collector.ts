import { l2Norm, type Accumulator, type EvaluateResult, type FitFailure, type FitResult, type Strategy } from './aggregate/index.js';
import {
  EvaluationReportSchema,
  PROTOCOL_VERSION,
  UpdateMetaSchema,
  parseOrError,
  type Ack,
  type Evaluation,
  type RoundMetrics,
  type UpdateReceipt,
} from './protocol.js';
import { decodeFrame } from './wire/index.js';

export interface RoundCollectorOptions {
  readonly runId: string;
  readonly round: number;
  readonly modelVersion: number;
  /** Parameters of the run's model: every delta must have exactly this many. */
  readonly length: number;
  /** Participants asked to train this round. */
  readonly trainers: readonly string[];
  /** Held-out participants asked only to evaluate. */
  readonly evaluators: readonly string[];
  readonly strategy: Strategy;
  /** Epoch ms after which updates are late. */
  readonly deadline: number;
  readonly maxUpdateNorm?: number;
  /** Largest example count one update may claim (a participant inflating its FedAvg weight). */
  readonly maxExamples?: number;
  /** The run's evaluation metric (accuracy for classification, mse for regression): reports in another are refused. */
  readonly metric?: Evaluation['metric'];
  readonly now?: () => number;
}

type Answer = { kind: 'fit' } | { kind: 'evaluation' } | { kind: 'failure'; reason: string };

/**
 * One round on the hub side, independent of transport: validates each update where it arrives and folds the
 * valid ones straight into the strategy's streaming accumulator (memory O(parameters)). An invalid update
 * gets an error that says why and changes nothing. The hub and the in-process simulation both use it.
 */
export class RoundCollector {
  readonly accumulator: Accumulator;
  readonly fits: FitResult[] = [];
  readonly failures: FitFailure[] = [];
  private readonly evaluations: (EvaluateResult & { heldOut: boolean })[] = [];
  private readonly answers = new Map<string, Answer>();
  private readonly trainers: ReadonlySet<string>;
  private readonly evaluators: ReadonlySet<string>;
  private readonly now: () => number;
  private closedBecause: string | null = null;
  bytesUp = 0;

  constructor(private readonly options: RoundCollectorOptions) {
    this.accumulator = options.strategy.createAccumulator(options.length);
    this.trainers = new Set(options.trainers);
    this.evaluators = new Set(options.evaluators);
    this.now = options.now ?? Date.now;
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

  submitUpdate(participantId: string, rawMeta: unknown, frame: unknown): Ack<UpdateReceipt> {
    const { round, modelVersion, runId } = this.options;
    const parsed = parseOrError(UpdateMetaSchema, rawMeta);
    if (!parsed.ok) return { ok: false, error: `malformed update: ${parsed.error}` };
    const meta = parsed.data;
    const stale = this.checkAddress(meta);
    if (stale) return { ok: false, error: stale };
    if (!this.trainers.has(participantId)) return { ok: false, error: `participant ${participantId} was not selected to train in round ${round}` };
    if (this.answers.has(participantId)) return { ok: false, error: `duplicate update: participant ${participantId} already answered round ${round}` };
    if (this.now() > this.options.deadline) return { ok: false, error: `late update: round ${round} closed at its deadline` };
    if (!(frame instanceof Uint8Array) && !(frame instanceof ArrayBuffer)) return { ok: false, error: 'update frame must be binary (ArrayBuffer or Uint8Array)' };
    if (this.options.maxExamples !== undefined && meta.numExamples > this.options.maxExamples) {
      return { ok: false, error: `update claims ${meta.numExamples} examples; at most ${this.options.maxExamples} are accepted` };
    }
    const badEvaluation = meta.evaluation && this.checkEvaluation(meta.evaluation);
    if (badEvaluation) return { ok: false, error: badEvaluation };
    const expect = { kind: 'delta', protocolVersion: PROTOCOL_VERSION, runId, round, modelVersion, length: this.options.length } as const;
    const reject = (error: unknown): Ack<UpdateReceipt> => ({ ok: false, error: `invalid update frame: ${error instanceof Error ? error.message : String(error)}` });
    const bound = this.options.maxUpdateNorm;
    let values: Float32Array;
    try {
      // A view on the received bytes. Unbounded runs check NaN/Infinity in the same pass that folds the values;
      // a norm bound needs finite values first, so the decoder checks them.
      values = decodeFrame(frame, expect, { view: true, skipFiniteCheck: bound === undefined }).values;
    } catch (error) {
      return reject(error);
    }
    if (bound !== undefined) {
      const norm = l2Norm(values);
      if (!(norm <= bound)) return { ok: false, error: `update norm ${norm.toPrecision(4)} exceeds this run's bound of ${bound}` };
      this.accumulator.add(values, meta.numExamples);
    } else if (!this.accumulator.addIfFinite(values, meta.numExamples)) {
      try {
        decodeFrame(frame, expect); // the slow path, only for bad input: names the first non-finite value
      } catch (error) {
        return reject(error);
      }
      return reject(new Error('frame carries a non-finite value'));
    }
    this.answers.set(participantId, { kind: 'fit' });
    this.bytesUp += frame.byteLength;
    this.fits.push({ participantId, numExamples: meta.numExamples, metrics: { loss: meta.loss, trainMs: meta.trainMs } });
    if (meta.evaluation) this.addEvaluation(participantId, meta.evaluation, false);
    return { ok: true, data: { round, received: this.fits.length } };
  }

  submitEvaluation(participantId: string, rawReport: unknown): Ack<UpdateReceipt> {
    const parsed = parseOrError(EvaluationReportSchema, rawReport);
    if (!parsed.ok) return { ok: false, error: `malformed evaluation: ${parsed.error}` };
    const stale = this.checkAddress(parsed.data);
    if (stale) return { ok: false, error: stale };
    if (!this.evaluators.has(participantId)) return { ok: false, error: `participant ${participantId} was not asked to evaluate round ${this.options.round}` };
    if (this.answers.has(participantId)) return { ok: false, error: `duplicate evaluation: participant ${participantId} already answered round ${this.options.round}` };
    const badEvaluation = this.checkEvaluation(parsed.data.evaluation);
    if (badEvaluation) return { ok: false, error: badEvaluation };
    this.answers.set(participantId, { kind: 'evaluation' });
    this.addEvaluation(participantId, parsed.data.evaluation, true);
    return { ok: true, data: { round: this.options.round, received: this.fits.length } };
  }

  /** A participant that will not answer (it disconnected, or reported an error). */
  fail(participantId: string, reason: string): void {
    if (this.answers.has(participantId) || (!this.trainers.has(participantId) && !this.evaluators.has(participantId))) return;
    this.answers.set(participantId, { kind: 'failure', reason });
    if (this.trainers.has(participantId)) this.failures.push({ participantId, reason });
  }

  /** Later submissions are refused with this reason (the round finished or was abandoned). */
  close(reason: string): void {
    this.closedBecause ??= reason;
    for (const id of this.pending) this.fail(id, reason);
  }

  /** Example-weighted means over what arrived: trainers and held-out participants separately. */
  metrics(): RoundMetrics {
    const strategy = this.options.strategy;
    const round = this.options.round;
    const trainers = strategy.aggregateEvaluate(round, this.evaluations.filter((e) => !e.heldOut));
    const heldOut = strategy.aggregateEvaluate(round, this.evaluations.filter((e) => e.heldOut));
    const loss = strategy.aggregateEvaluate(round, this.fits).loss;
    return {
      loss: loss ?? null,
      global: trainers.before ?? null,
      personalized: trainers.after ?? null,
      heldOutGlobal: heldOut.before ?? null,
      heldOutPersonalized: heldOut.after ?? null,
    };
  }

  private checkAddress(address: { runId: string; round: number; modelVersion: number }): string | null {
    const { runId, round, modelVersion } = this.options;
    if (this.closedBecause) return `round ${round} of run ${runId} is closed (${this.closedBecause})`;
    if (address.runId !== runId) return `stale: this is for run ${address.runId}, but run ${runId} is active`;
    if (address.round !== round || address.modelVersion !== modelVersion) {
      return `stale: this is for round ${address.round} (model version ${address.modelVersion}), but round ${round} (model version ${modelVersion}) is open`;
    }
    return null;
  }

  /** Whether a participant was sent work this round and answered it (an update or an evaluation was accepted). */
  answered(participantId: string): boolean {
    const answer = this.answers.get(participantId);
    return answer !== undefined && answer.kind !== 'failure';
  }

  /** The schema bounds every figure; what only the run knows is checked here. */
  private checkEvaluation(evaluation: Evaluation): string | null {
    const { metric, maxExamples } = this.options;
    if (metric !== undefined && evaluation.metric !== metric) return `evaluation reports ${evaluation.metric}, but this run measures ${metric}`;
    if (maxExamples !== undefined && evaluation.testExamples > maxExamples) return `evaluation claims ${evaluation.testExamples} test examples; at most ${maxExamples} are accepted`;
    return null;
  }

  private addEvaluation(participantId: string, evaluation: Evaluation, heldOut: boolean): void {
    this.evaluations.push({ participantId, numExamples: evaluation.testExamples, metrics: { before: evaluation.before, after: evaluation.after }, heldOut });
  }
}
