import { addDiscreteGaussianNoise, noiseGrid } from '../privacy/discrete-gaussian.js';
import { cryptoRandomSource, uniforms, type RandomSource } from '../privacy/random-source.js';
import type { PrivacyConfig } from '../protocol.js';
import type { FitBatch } from './fit-batch.js';
import { weightedMetrics } from './metrics.js';
import { createServerOptimizer, type ServerOptimizer, type ServerOptimizerConfig } from './server-optimizer.js';
import {
  checkFitsMatch,
  scheduledEvaluators,
  type EvaluateResult,
  type EvaluationSchedule,
  type Strategy,
  type StrategyState,
} from './strategy.js';
import { checkLength, checkUpdate, type Accumulator } from './weighted-sum.js';

/**
 * q for a round with `pool` eligible participants: the configured sampling rate, or the expected count over the pool
 * (at most 1). 0 when nobody is eligible.
 */
export function samplingRateFor(privacy: PrivacyConfig, pool: number): number {
  if (pool <= 0) return 0;
  return privacy.samplingRate ?? Math.min(1, privacy.expectedPerRound! / pool);
}

/**
 * The unweighted sum of a round's (already clipped) deltas: example counts do not weight DP-FedAvg, since a
 * participant's weight would be unbounded sensitivity. `result()` is the sum itself, all zeros when nothing arrived.
 */
export class ClippedSum implements Accumulator {
  readonly length: number;
  private readonly sum: Float64Array;
  private added = 0;

  constructor(length: number) {
    checkLength(length, 'ClippedSum');
    this.length = length;
    this.sum = new Float64Array(length);
  }

  get count(): number {
    return this.added;
  }
  get totalWeight(): number {
    return this.added;
  }

  add(delta: Float32Array, weight: number): void {
    checkUpdate(delta, weight, this.length, 'ClippedSum.add');
    for (let i = 0; i < this.length; i++) this.sum[i] = this.sum[i]! + delta[i]!;
    this.added++;
  }

  addIfFinite(delta: Float32Array, weight: number): boolean {
    checkUpdate(delta, weight, this.length, 'ClippedSum.addIfFinite');
    let poison = 0;
    for (let i = 0; i < this.length; i++) poison += delta[i]! * 0;
    if (poison !== 0) return false;
    this.add(delta, weight);
    return true;
  }

  result(): Float32Array {
    return Float32Array.from(this.sum);
  }

  exactResult(): Float64Array {
    return Float64Array.from(this.sum);
  }

  reset(): void {
    this.sum.fill(0);
    this.added = 0;
  }
}

export interface DpFedAvgStrategyOptions {
  readonly privacy: PrivacyConfig;
  readonly optimizer: ServerOptimizerConfig;
  /** Default: every round. */
  readonly evaluation?: EvaluationSchedule;
  /** Secret randomness for sampling and noise: the platform CSPRNG unless a test injects a seeded one. */
  readonly random?: RandomSource;
}

/**
 * Central DP-FedAvg (McMahan et al. 2018; privacy.md §3.2). Selection: each available participant independently with
 * probability q, from secret randomness (never the run's public seed). The round collector clips each delta to
 * `clipNorm` = C (the clip the guarantee rests on); they are summed unweighted; the sum is rounded to a grid of
 * g = 2^-24·C and discrete Gaussian noise of standard deviation z·(C + √d·g) is added per coordinate in grid units
 * (privacy/discrete-gaussian.ts: √d·g covers what rounding can add to one participant's influence, so z holds as
 * configured); the sum is divided by the expected count q·(available participants), not by the number
 * that arrived, so a round that got fewer (or no) updates still releases only a noisy mean; then the server optimizer.
 */
export class DpFedAvgStrategy implements Strategy {
  readonly name: string = 'dp-fedavg';
  readonly clipNorm: number;
  private readonly privacy: PrivacyConfig;
  private readonly optimizer: ServerOptimizer;
  private readonly evaluation: EvaluationSchedule | undefined;
  private readonly random: RandomSource;
  /** The round configureFit last sampled, its q and the expected count that divides its sum. */
  private sampled: { round: number; samplingRate: number; expected: number } | null = null;

  constructor(options: DpFedAvgStrategyOptions) {
    this.privacy = options.privacy;
    this.clipNorm = options.privacy.clip;
    if (!(Number.isFinite(this.clipNorm) && this.clipNorm > 0))
      throw new RangeError(`DpFedAvgStrategy: clip must be positive and finite, got ${this.clipNorm}`);
    this.optimizer = createServerOptimizer(options.optimizer);
    this.evaluation = options.evaluation;
    this.random = options.random ?? cryptoRandomSource;
  }

  /** Poisson sampling with secret randomness; the sample is returned sorted (its order says nothing either). */
  configureFit(round: number, available: readonly string[]): string[] {
    const ids = [...available].sort();
    const q = samplingRateFor(this.privacy, ids.length);
    const draws = uniforms(this.random, ids.length);
    this.sampled = { round, samplingRate: q, expected: q * ids.length };
    return ids.filter((_, i) => draws[i]! < q);
  }

  /** The sampling rate of `round`, once configureFit has sampled it. */
  samplingRate(round: number): number | null {
    return this.sampled?.round === round ? this.sampled.samplingRate : null;
  }

  configureEvaluate(round: number, available: readonly string[]): string[] | null {
    return scheduledEvaluators(this.evaluation, round, available);
  }

  createAccumulator(length: number): Accumulator {
    return new ClippedSum(length);
  }

  /** Never null: a round without updates still releases noise over the expected count. */
  aggregateFit(round: number, global: Float32Array, fits: FitBatch): Float32Array | null {
    checkFitsMatch(this.name, fits, global);
    const sampled = this.sampled;
    if (sampled?.round !== round) throw new Error(`${this.name}: round ${round} was not sampled by configureFit`);
    return this.optimizer.update(global, this.noisyMean(fits.aggregateExact(), sampled.expected));
  }

  /** (Σ clipped deltas on the grid + discrete Gaussian noise) / expected count. Public for the calibration test. */
  noisyMean(sum: Float64Array, expected: number): Float32Array {
    if (!(expected > 0)) throw new RangeError(`${this.name}: the expected count must be positive, got ${expected}`);
    const noisy = Float64Array.from(sum);
    const grid = noiseGrid(this.clipNorm);
    const sensitivity = this.clipNorm + Math.sqrt(noisy.length) * grid;
    addDiscreteGaussianNoise(noisy, this.privacy.noiseMultiplier * sensitivity, grid, this.random);
    const out = new Float32Array(noisy.length);
    for (let i = 0; i < noisy.length; i++) out[i] = noisy[i]! / expected;
    return out;
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
