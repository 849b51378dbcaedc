import type { Accumulator, WeightedPartial } from './weighted-sum.js';

/** A participant's successful training answer; its delta went into the round's accumulator. */
export interface FitResult {
  readonly participantId: string;
  readonly numExamples: number;
  readonly metrics: Record<string, number>;
}

/**
 * One round's valid updates: the accumulator their deltas are folded into and the result of each, owned together
 * so the two always describe the same updates (they used to travel as two lists that had to agree). A run keeps
 * one and resets it each round, so the accumulator's buffers are allocated once per run, not once per round.
 */
export class FitBatch {
  private readonly fits: FitResult[] = [];

  constructor(private readonly accumulator: Accumulator) {}

  /** Parameters per delta. */
  get length(): number {
    return this.accumulator.length;
  }

  get count(): number {
    return this.fits.length;
  }

  get results(): readonly FitResult[] {
    return this.fits;
  }

  /** Folds a delta the caller has checked (finite, the right length) and records its result. */
  add(delta: Float32Array, result: FitResult): void {
    this.accumulator.add(delta, result.numExamples);
    this.fits.push(result);
  }

  /** Like `add`, but folds and records nothing and returns false when the delta holds NaN or ±Infinity (one pass). */
  addIfFinite(delta: Float32Array, result: FitResult): boolean {
    if (!this.accumulator.addIfFinite(delta, result.numExamples)) return false;
    this.fits.push(result);
    return true;
  }

  /**
   * This batch as one hub's share of a round: the float64 partial sum and the results it holds. Only rules whose
   * result is a sum (FedAvg) decompose so; robust rules need every delta in one place and throw.
   */
  partial(): { partial: WeightedPartial; results: FitResult[] } {
    if (!this.accumulator.partial) throw new TypeError('FitBatch.partial: this aggregation rule needs every delta in one place');
    return { partial: this.accumulator.partial(), results: [...this.fits] };
  }

  /** Folds in another hub's `partial()`: its sums and its results, which must describe the same updates. */
  addPartial(partial: WeightedPartial, results: readonly FitResult[]): void {
    if (!this.accumulator.addPartial) throw new TypeError('FitBatch.addPartial: this aggregation rule needs every delta in one place');
    if (results.length !== partial.count)
      throw new RangeError(`FitBatch.addPartial: a partial of ${partial.count} updates came with ${results.length} results`);
    this.accumulator.addPartial(partial);
    this.fits.push(...results);
  }

  /** The round's aggregated delta as a new array (the accumulator's rule: weighted mean, trimmed mean...). */
  aggregate(): Float32Array {
    return this.accumulator.result();
  }

  /** `aggregate()` before float32 rounding, where the accumulator keeps it; else the float32 result widened. */
  aggregateExact(): Float64Array {
    return this.accumulator.exactResult?.() ?? Float64Array.from(this.accumulator.result());
  }

  reset(): void {
    this.accumulator.reset();
    this.fits.length = 0;
  }
}
