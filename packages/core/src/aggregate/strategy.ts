import type { FitBatch } from './fit-batch.js';
import { weightedMetrics } from './metrics.js';
import { selectParticipants, validateSelectionOptions, type SelectionOptions } from './select.js';
import { createServerOptimizer, type ServerOptimizer, type ServerOptimizerConfig, type ServerOptimizerState } from './server-optimizer.js';
import { TrimmedMeanAccumulator, checkTrim } from './trimmed-mean.js';
import { WeightedSum, type Accumulator } from './weighted-sum.js';

/** When participants evaluate (before and after adaptation): every `every` rounds, and in round `lastRound`. */
export interface EvaluationSchedule {
  readonly every: number;
  readonly lastRound: number;
}

/** Throws unless a round's updates have as many parameters as the global weights they are aggregated into. */
export function checkFitsMatch(strategy: string, fits: FitBatch, global: Float32Array): void {
  if (fits.length !== global.length) {
    throw new RangeError(`${strategy}: updates have ${fits.length} parameters, global weights ${global.length}`);
  }
}

/** Who evaluates in `round` under `schedule`: everyone available on its rounds (every round without one), else nobody. */
export function scheduledEvaluators(
  schedule: EvaluationSchedule | undefined,
  round: number,
  available: readonly string[],
): string[] | null {
  if (schedule && round % schedule.every !== 0 && round !== schedule.lastRound) return null;
  return [...available];
}

/** A selected participant that did not deliver a valid update (timeout, disconnect, rejected payload). */
export interface FitFailure {
  readonly participantId: string;
  readonly reason: string;
}

export interface EvaluateResult {
  readonly participantId: string;
  readonly numExamples: number;
  readonly metrics: Record<string, number>;
}

/** What a strategy persists so a run resumes exactly. */
export interface StrategyState {
  readonly name: string;
  readonly optimizer: ServerOptimizerState;
}

/**
 * Decides who trains, who evaluates and how updates become new global weights (Flower's server/strategy split). The
 * round engine owns participants, deadlines and persistence; a strategy owns selection, aggregation and optimizer
 * state.
 */
export interface Strategy {
  readonly name: string;
  /** If set, the round collector clips each delta to this L2 norm (`clipToNorm`) before folding it in. */
  readonly clipNorm?: number;
  /** Which of the available participant ids train this round. */
  configureFit(round: number, available: readonly string[]): string[];
  /**
   * Flower's configure_evaluate: null when nobody evaluates this round; otherwise the held-out participants (of
   * those available) that evaluate, and the trainers evaluate before training too.
   */
  configureEvaluate(round: number, available: readonly string[]): string[] | null;
  /** An empty accumulator for a run's deltas; the round collector folds each valid delta with weight `numExamples`. */
  createAccumulator(length: number): Accumulator;
  /**
   * New global weights from the round's valid updates, or null to keep the current ones (nothing valid arrived).
   * Advances the server optimizer: call it once per round.
   */
  aggregateFit(round: number, global: Float32Array, fits: FitBatch, failures: readonly FitFailure[]): Float32Array | null;
  /** Example-weighted mean of each metric over participants (a metric missing in some results averages over those that have it). */
  aggregateEvaluate(round: number, results: readonly EvaluateResult[]): Record<string, number>;
  getState(): StrategyState;
  /** Throws on state from another strategy or optimizer, or with malformed buffers. */
  setState(state: StrategyState): void;
}

export interface FedAvgStrategyOptions extends SelectionOptions {
  readonly seed: number;
  readonly optimizer: ServerOptimizerConfig;
  /** L2 bound on each delta, applied by the round collector before accumulation. */
  readonly clipNorm?: number;
  /** Default: every round. */
  readonly evaluation?: EvaluationSchedule;
}

/**
 * Weighted FedAvg with a server optimizer: seeded selection per round, a streaming `WeightedSum`, and
 * `optimizer.update(global, mean delta)`. With `{ kind: 'sgd', lr: 1 }` it is McMahan's FedAvg.
 */
export class FedAvgStrategy implements Strategy {
  readonly name: string = 'fedavg';
  readonly clipNorm?: number;
  private readonly seed: number;
  private readonly selection: SelectionOptions;
  private readonly optimizer: ServerOptimizer;
  private readonly evaluation: EvaluationSchedule | undefined;

  constructor(options: FedAvgStrategyOptions) {
    const { seed, optimizer, clipNorm, perRound, fraction, minFit, evaluation } = options;
    if (!Number.isInteger(seed)) throw new RangeError(`FedAvgStrategy: seed must be an integer, got ${seed}`);
    validateSelectionOptions(options, 'FedAvgStrategy');
    if (clipNorm !== undefined) {
      if (!Number.isFinite(clipNorm) || clipNorm <= 0) {
        throw new RangeError(`FedAvgStrategy: clipNorm must be positive and finite, got ${clipNorm}`);
      }
      this.clipNorm = clipNorm;
    }
    if (
      evaluation !== undefined &&
      !(Number.isInteger(evaluation.every) && evaluation.every >= 1 && Number.isInteger(evaluation.lastRound))
    ) {
      throw new RangeError(
        `FedAvgStrategy: evaluation needs a positive integer 'every' and an integer 'lastRound', got ${JSON.stringify(evaluation)}`,
      );
    }
    this.evaluation = evaluation;
    this.seed = seed;
    this.selection = { perRound, fraction, minFit };
    this.optimizer = createServerOptimizer(optimizer);
  }

  configureFit(round: number, available: readonly string[]): string[] {
    return selectParticipants(this.seed, round, available, this.selection);
  }

  configureEvaluate(round: number, available: readonly string[]): string[] | null {
    return scheduledEvaluators(this.evaluation, round, available);
  }

  createAccumulator(length: number): Accumulator {
    return new WeightedSum(length);
  }

  aggregateFit(_round: number, global: Float32Array, fits: FitBatch): Float32Array | null {
    checkFitsMatch(this.name, fits, global);
    if (fits.count === 0) return null;
    return this.optimizer.update(global, fits.aggregate());
  }

  aggregateEvaluate(_round: number, results: readonly EvaluateResult[]): Record<string, number> {
    return weightedMetrics(results);
  }

  getState(): StrategyState {
    return { name: this.name, optimizer: this.optimizer.getState() };
  }

  setState(state: StrategyState): void {
    if (state.name !== this.name) throw new TypeError(`${this.name}.setState: state is for strategy '${state.name}'`);
    this.optimizer.setState(state.optimizer);
  }
}

export interface TrimmedMeanStrategyOptions extends FedAvgStrategyOptions {
  /** Share of the largest and of the smallest values dropped per parameter, in [0, 0.5); 'median' keeps the middle. */
  readonly trim: number | 'median';
}

/**
 * FedAvg's selection and server optimizer over a coordinate-wise trimmed mean. Holds every delta of a round:
 * O(participants × parameters) memory, unlike `FedAvgStrategy`. Example counts do not weight the mean.
 */
export class TrimmedMeanStrategy extends FedAvgStrategy {
  override readonly name: string;
  readonly trim: number | 'median';

  constructor(options: TrimmedMeanStrategyOptions) {
    super(options);
    checkTrim(options.trim, 'TrimmedMeanStrategy');
    this.trim = options.trim;
    this.name = options.trim === 'median' ? 'median' : 'trimmed-mean';
  }

  override createAccumulator(length: number): Accumulator {
    return new TrimmedMeanAccumulator(length, this.trim);
  }
}
