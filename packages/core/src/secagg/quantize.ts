// Quantisation of a weighted delta into the ring Z_2^32 for secure aggregation (privacy.md §2.8). Masks only cancel in
// a ring, so each tab turns w·Δ into integers: clamp every coordinate to ±clip, scale by S, round stochastically (an
// unbiased rounding: the expected sum is the exact sum), store as two's complement. S leaves room for maxGroup tabs at
// ±clip each without wrapping: |Σ| ≤ maxGroup·clip·S ≤ 2^31 − 1. Extras (the FedAvg weight and metric sums, each in
// [0, 1] per tab) travel after the values at their own scale, so the hub learns only their totals.

import { uniforms, type RandomSource } from '../privacy/random-source.js';

const INT32_MAX = 2 ** 31 - 1;

export interface RingScales {
  /** Values: S = 2^⌊log2((2^31 − 1)/(maxGroup·clip))⌋. */
  readonly value: number;
  /** Extras, each in [0, 1] per tab: 2^⌊log2((2^31 − 1)/maxGroup)⌋. */
  readonly extra: number;
}

export function ringScales(maxGroup: number, clip: number): RingScales {
  if (!(Number.isInteger(maxGroup) && maxGroup >= 1)) throw new RangeError(`maxGroup must be a positive integer, got ${maxGroup}`);
  if (!(Number.isFinite(clip) && clip > 0)) throw new RangeError(`clip must be positive and finite, got ${clip}`);
  const value = 2 ** Math.floor(Math.log2(INT32_MAX / (maxGroup * clip)));
  const extra = 2 ** Math.floor(Math.log2(INT32_MAX / maxGroup));
  if (value < 1) throw new RangeError(`clip ${clip} with ${maxGroup} tabs leaves no integer step in 32 bits`);
  return { value, extra };
}

export interface QuantisedInput {
  /** values.length + extras.length words, two's complement mod 2^32. */
  readonly words: Uint32Array;
  /** Coordinates of w·Δ that the clip clamped: a tab may report it as an extra. */
  readonly clamped: number;
}

/**
 * w·values clamped to ±clip, then extras clamped to [0, 1], each scaled and stochastically rounded, as ring words.
 * `random` supplies the rounding's uniforms (the platform CSPRNG in a tab; seeded only in tests).
 */
export function quantise(
  values: Float32Array,
  weight: number,
  extras: readonly number[],
  clip: number,
  scales: RingScales,
  random: RandomSource,
): QuantisedInput {
  if (!(Number.isFinite(weight) && weight > 0 && weight <= 1)) throw new RangeError(`weight must be in (0, 1], got ${weight}`);
  const u = uniforms(random, values.length + extras.length);
  const words = new Uint32Array(values.length + extras.length);
  let clamped = 0;
  const put = (at: number, scaled: number) => {
    const low = Math.floor(scaled);
    words[at] = (low + (u[at]! < scaled - low ? 1 : 0)) >>> 0;
  };
  for (let i = 0; i < values.length; i++) {
    const v = weight * values[i]!;
    if (!Number.isFinite(v)) throw new RangeError(`value ${i} is not finite`);
    const c = Math.max(-clip, Math.min(clip, v));
    if (c !== v) clamped++;
    put(i, c * scales.value);
  }
  extras.forEach((x, j) => {
    if (!Number.isFinite(x)) throw new RangeError(`extra ${j} is not finite`);
    put(values.length + j, Math.max(0, Math.min(1, x)) * scales.extra);
  });
  return { words, clamped };
}

/** Adds `words` into `sum` mod 2^32, in place. */
export function addWords(sum: Uint32Array, words: Uint32Array, sign: 1 | -1 = 1): void {
  if (sum.length !== words.length) throw new RangeError(`ring vectors differ in length: ${sum.length} and ${words.length}`);
  if (sign === 1) for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + words[i]!) >>> 0;
  else for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! - words[i]!) >>> 0;
}

/** The unmasked total: the first `valueCount` words as Σ w·Δ, the rest as the extras' sums, read as signed integers. */
export function decodeTotal(sum: Uint32Array, valueCount: number, scales: RingScales): { values: Float64Array; extras: number[] } {
  const values = new Float64Array(valueCount);
  for (let i = 0; i < valueCount; i++) values[i] = (sum[i]! | 0) / scales.value;
  const extras = Array.from(sum.subarray(valueCount), (w) => (w | 0) / scales.extra);
  return { values, extras };
}

/** A round's secure total, decoded: FedAvg's weighted mean and what the extras summed to. */
export interface SecureMean {
  readonly mean: Float32Array;
  /** Σ w over the survivors, w = min(examples, maxExamples) / maxExamples. */
  readonly totalWeight: number;
  /** The extras after the weight, summed (e.g. Σ w·loss), in the order the tabs encoded them. */
  readonly extras: readonly number[];
}

/**
 * Σ w·Δ / Σ w from a unmasked total whose first extra is each tab's weight. A tab can put any ring element in its
 * weight slot, so Σ w must lie in [survivors / maxExamples, survivors] (each honest w is in [1/maxExamples, 1]), give
 * or take the rounding: otherwise the total is refused and nothing is released.
 */
export function secureMean(total: Uint32Array, valueCount: number, scales: RingScales, survivors: number, maxExamples: number): SecureMean {
  const { values, extras } = decodeTotal(total, valueCount, scales);
  const [totalWeight, ...rest] = extras;
  const slack = survivors / scales.extra;
  if (totalWeight === undefined || !(totalWeight >= survivors / maxExamples - slack && totalWeight <= survivors + slack))
    throw new RangeError(
      `the decoded total weight ${totalWeight} is outside [${survivors / maxExamples}, ${survivors}] for ${survivors} survivors: a tab sent a malformed weight`,
    );
  const mean = new Float32Array(valueCount);
  for (let i = 0; i < valueCount; i++) mean[i] = values[i]! / totalWeight;
  return { mean, totalWeight, extras: rest };
}
