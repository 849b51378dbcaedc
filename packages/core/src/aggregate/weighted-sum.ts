/**
 * What a strategy folds one round's deltas into. `WeightedSum` (streaming FedAvg) is the usual one; robust rules
 * that need every delta (see `TrimmedMeanAccumulator`) implement the same shape so the hub never branches on them.
 */
export interface Accumulator {
  /** Parameters per delta. */
  readonly length: number;
  /** Deltas added so far. */
  readonly count: number;
  /** Sum of the weights added so far. */
  readonly totalWeight: number;
  /** Folds one delta in; throws (and changes nothing) on a wrong length or weight. */
  add(delta: Float32Array, weight: number): void;
  /**
   * Like `add`, but folds nothing and returns false when the delta holds NaN or ±Infinity: the hub checks and
   * folds an update in one pass over it instead of two.
   */
  addIfFinite(delta: Float32Array, weight: number): boolean;
  /** The round's aggregated delta as a new array; throws if nothing was added. */
  result(): Float32Array;
  /**
   * The result before its rounding to float32, where the accumulator keeps one (DP-FedAvg releases its sum on a grid
   * finer than float32's precision at the sum's size).
   */
  exactResult?(): Float64Array;
  /** Empties it for the next round, keeping its buffers: a hub round then allocates no accumulator memory. */
  reset(): void;
  /** What was added so far, as one hub's share of a round (design/scale-out.md §4.2); only decomposable rules have it. */
  partial?(): WeightedPartial;
  /** Folds in another hub's `partial()`. */
  addPartial?(partial: WeightedPartial): void;
}

/** Throws unless `length` is a usable parameter count. */
export function checkLength(length: number, what: string): void {
  if (!Number.isInteger(length) || length <= 0) {
    throw new RangeError(`${what}: length must be a positive integer, got ${length}`);
  }
}

/** Throws unless `delta` has `length` entries and `weight` is positive and finite, so a bad update changes nothing. */
export function checkUpdate(delta: Float32Array, weight: number, length: number, what: string): void {
  if (!(delta instanceof Float32Array)) throw new TypeError(`${what}: delta must be a Float32Array`);
  if (delta.length !== length) {
    throw new RangeError(`${what}: delta has ${delta.length} parameters, expected ${length}`);
  }
  if (!Number.isFinite(weight) || weight <= 0) {
    throw new RangeError(`${what}: weight must be positive and finite, got ${weight}`);
  }
}

/**
 * Streaming weighted FedAvg: a running sum of `weight · delta`, so one round costs O(parameters) memory however
 * many participants answer.
 *
 * The sum is a Float64Array. Measured here (Node 20, 4M parameters) it folds ~25% slower than a Float32Array
 * (~0.4 vs ~0.5 G parameters/s, still far above what the network delivers) at twice the memory of one model copy,
 * but float32 accumulation drifts with the number of adds (0.1% after 100k adds of one value) and, worse, depends
 * on arrival order, which is not deterministic over sockets. In float64 the rounding to float32 in `mean()` makes
 * the result practically independent of arrival order, so seeded runs reproduce.
 *
 * Finiteness of delta values is not checked per add (that would be a second pass over every update); the hub
 * validates updates at the wire, and `mean()` throws if a non-finite value got in anyway.
 */
export class WeightedSum implements Accumulator {
  readonly length: number;
  private sum: Float64Array;
  /** addIfFinite writes here and swaps on success, so a rejected delta leaves `sum` bit-identical. */
  private spare: Float64Array | null = null;
  private added = 0;
  private weights = 0;

  constructor(length: number) {
    checkLength(length, 'WeightedSum');
    this.length = length;
    this.sum = new Float64Array(length);
  }

  get count(): number {
    return this.added;
  }

  get totalWeight(): number {
    return this.weights;
  }

  add(delta: Float32Array, weight: number): void {
    checkUpdate(delta, weight, this.length, 'WeightedSum.add');
    const sum = this.sum;
    const n = this.length;
    // The first delta of a round overwrites what the last round left: reset need not zero the sum.
    if (this.added === 0) for (let i = 0; i < n; i++) sum[i] = weight * (delta[i] as number);
    else for (let i = 0; i < n; i++) sum[i] = (sum[i] as number) + weight * (delta[i] as number);
    this.added++;
    this.weights += weight;
  }

  addIfFinite(delta: Float32Array, weight: number): boolean {
    checkUpdate(delta, weight, this.length, 'WeightedSum.addIfFinite');
    const sum = this.sum;
    const next = (this.spare ??= new Float64Array(this.length));
    const n = this.length;
    let poison = 0; // stays ±0 for finite values; NaN once any value is NaN or ±Infinity
    if (this.added === 0) {
      for (let i = 0; i < n; i++) {
        const d = delta[i] as number;
        poison += d * 0;
        next[i] = weight * d;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const d = delta[i] as number;
        poison += d * 0;
        next[i] = (sum[i] as number) + weight * d;
      }
    }
    if (poison !== 0) return false;
    this.sum = next;
    this.spare = sum;
    this.added++;
    this.weights += weight;
    return true;
  }

  /** `sum / totalWeight` as a new Float32Array. */
  mean(): Float32Array {
    if (this.added === 0) throw new Error('WeightedSum.mean: no deltas were added');
    const out = new Float32Array(this.length);
    const sum = this.sum;
    const inv = 1 / this.weights;
    let check = 0;
    for (let i = 0; i < this.length; i++) {
      const v = (sum[i] as number) * inv;
      out[i] = v;
      check += v - v; // NaN as soon as any v is NaN or ±Infinity
    }
    if (check !== 0) throw new Error('WeightedSum.mean: the sum is not finite (a delta with NaN or Infinity was added)');
    return out;
  }

  result(): Float32Array {
    return this.mean();
  }

  /** O(1): the next add overwrites the sum instead of adding to it. */
  reset(): void {
    this.added = 0;
    this.weights = 0;
  }

  /** This hub's part of a round that spans hubs: Σ w·Δ in float64 (a copy), Σ w and the count. */
  partial(): WeightedPartial {
    return { sum: this.added === 0 ? new Float64Array(this.length) : Float64Array.from(this.sum), weight: this.weights, count: this.added };
  }

  /**
   * Folds in another hub's partial. Float64 sums add without the rounding to float32 in between, so the coordinator,
   * adding partials in a fixed order (sorted hub ids), gets the same mean whatever order they arrived in.
   */
  addPartial(partial: WeightedPartial): void {
    const { sum, weight, count } = partial;
    if (!(sum instanceof Float64Array) || sum.length !== this.length)
      throw new RangeError(`WeightedSum.addPartial: a partial of ${this.length} float64 sums expected, got ${sum?.length}`);
    if (!(Number.isInteger(count) && count >= 0 && Number.isFinite(weight) && weight >= 0 && (count === 0) === (weight === 0)))
      throw new RangeError(`WeightedSum.addPartial: count ${count} and weight ${weight} do not describe a partial`);
    if (count === 0) return;
    const own = this.sum;
    if (this.added === 0) own.set(sum);
    else for (let i = 0; i < this.length; i++) own[i] = (own[i] as number) + (sum[i] as number);
    this.added += count;
    this.weights += weight;
  }
}

/** A weighted sum over some of a round's updates (one hub's), to be combined with the others' (WeightedSum.addPartial). */
export interface WeightedPartial {
  readonly sum: Float64Array;
  readonly weight: number;
  readonly count: number;
}

const PARTIAL_HEADER_BYTES = 16;

/** A partial as bytes: weight and count (float64 each), then the sums, little-endian, whatever the host. */
export function encodePartial(partial: WeightedPartial): Uint8Array {
  const bytes = new Uint8Array(PARTIAL_HEADER_BYTES + 8 * partial.sum.length);
  const view = new DataView(bytes.buffer);
  view.setFloat64(0, partial.weight, true);
  view.setFloat64(8, partial.count, true);
  partial.sum.forEach((v, i) => view.setFloat64(PARTIAL_HEADER_BYTES + 8 * i, v, true));
  return bytes;
}

/**
 * Reads `encodePartial`'s bytes (from another process: checked). Through a DataView, since a pooled Node Buffer need
 * not be 8-byte aligned for a Float64Array view (scale-out.md §7).
 */
export function decodePartial(bytes: Uint8Array, length: number): WeightedPartial {
  if (bytes.byteLength !== PARTIAL_HEADER_BYTES + 8 * length)
    throw new RangeError(`a partial of ${length} sums is ${PARTIAL_HEADER_BYTES + 8 * length} bytes, got ${bytes.byteLength}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sum = new Float64Array(length);
  for (let i = 0; i < length; i++) sum[i] = view.getFloat64(PARTIAL_HEADER_BYTES + 8 * i, true);
  if (!sum.every(Number.isFinite)) throw new RangeError('a partial holds a non-finite sum');
  return { weight: view.getFloat64(0, true), count: view.getFloat64(8, true), sum };
}
