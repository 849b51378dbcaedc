import { checkLength, checkUpdate, type Accumulator } from './weighted-sum.js';

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): per parameter, drop the ⌊trim·n⌋ largest and smallest values and
 * average the rest. Robust to a minority of arbitrary (Byzantine) updates. `trim: 'median'` drops all but the
 * middle one (odd n) or two (even n): the coordinate-wise median.
 *
 * Not streaming: it keeps a copy of every delta, O(participants × parameters) memory, and sorts n values per
 * parameter. Unweighted by design: trusting example counts would let one participant outweigh the trimming.
 */
export class TrimmedMeanAccumulator implements Accumulator {
  readonly length: number;
  readonly trim: number | 'median';
  /** Copies of this round's deltas: the first `added` of them; reset keeps the buffers for the next round. */
  private readonly deltas: Float32Array[] = [];
  private added = 0;
  private weights = 0;

  constructor(length: number, trim: number | 'median') {
    checkLength(length, 'TrimmedMeanAccumulator');
    checkTrim(trim, 'TrimmedMeanAccumulator');
    this.length = length;
    this.trim = trim;
  }

  get count(): number {
    return this.added;
  }

  get totalWeight(): number {
    return this.weights;
  }

  /** Keeps a copy, since callers may reuse their buffer. `weight` is validated and counted, not used. */
  add(delta: Float32Array, weight: number): void {
    checkUpdate(delta, weight, this.length, 'TrimmedMeanAccumulator.add');
    const copy = this.deltas[this.added];
    if (copy) copy.set(delta);
    else this.deltas.push(delta.slice());
    this.added++;
    this.weights += weight;
  }

  addIfFinite(delta: Float32Array, weight: number): boolean {
    for (let i = 0; i < delta.length; i++) {
      const v = delta[i] as number;
      if (v - v !== 0) return false;
    }
    this.add(delta, weight);
    return true;
  }

  result(): Float32Array {
    const n = this.added;
    if (n === 0) throw new Error('TrimmedMeanAccumulator.result: no deltas were added');
    const k = this.trim === 'median' ? Math.floor((n - 1) / 2) : Math.floor(this.trim * n);
    const kept = n - 2 * k; // ≥ 1 because trim < 0.5
    const column = new Float64Array(n);
    const out = new Float32Array(this.length);
    for (let j = 0; j < this.length; j++) {
      for (let i = 0; i < n; i++) column[i] = (this.deltas[i] as Float32Array)[j] as number;
      if (k > 0) column.sort(); // typed-array sort is numeric
      let sum = 0;
      for (let i = k; i < n - k; i++) sum += column[i] as number;
      const v = sum / kept;
      if (!Number.isFinite(v)) throw new Error(`TrimmedMeanAccumulator.result: non-finite value at parameter ${j}`);
      out[j] = v;
    }
    return out;
  }

  reset(): void {
    this.added = 0;
    this.weights = 0;
  }
}

/** Throws unless `trim` is a fraction in [0, 0.5) or 'median'. */
export function checkTrim(trim: number | 'median', what: string): void {
  if (trim !== 'median' && !(Number.isFinite(trim) && trim >= 0 && trim < 0.5)) {
    throw new RangeError(`${what}: trim must be in [0, 0.5) or 'median', got ${trim}`);
  }
}
