/** Euclidean norm, accumulated in float64. NaN or Infinity exactly when `delta` holds a non-finite value. */
export function l2Norm(delta: Float32Array): number {
  let sq = 0;
  for (let i = 0; i < delta.length; i++) {
    const v = delta[i] as number;
    sq += v * v;
  }
  // float32 squares stay far below float64's range, so the sum only overflows on non-finite input
  return Math.sqrt(sq);
}

/**
 * `delta` scaled down to L2 norm `maxNorm` if it is longer (norm clipping, as in DP-FedAvg). Returns `delta` itself,
 * not a copy, when it is already within the bound: the hot path allocates only when it must clip. Never mutates.
 * Throws on a non-finite delta, since its norm cannot be bounded.
 */
export function clipToNorm(delta: Float32Array, maxNorm: number): Float32Array {
  if (!Number.isFinite(maxNorm) || maxNorm <= 0) {
    throw new RangeError(`clipToNorm: maxNorm must be positive and finite, got ${maxNorm}`);
  }
  const norm = l2Norm(delta);
  if (!Number.isFinite(norm)) throw new RangeError('clipToNorm: delta holds NaN or Infinity');
  if (norm <= maxNorm) return delta;
  // shrunk by float32's half-ulp so that rounding each entry cannot push the result's norm back above maxNorm
  const scale = (maxNorm / norm) * (1 - 2 ** -23);
  const out = new Float32Array(delta.length);
  for (let i = 0; i < delta.length; i++) out[i] = (delta[i] as number) * scale;
  return out;
}

/** ‖actual − expected‖ / ‖expected‖: how far one computation of a vector is from a reference (engines, FD checks). */
export function relativeL2Error(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) throw new RangeError(`relativeL2Error: ${actual.length} values against ${expected.length}`);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i]! - expected[i]!) ** 2;
    norm += expected[i]! ** 2;
  }
  return Math.sqrt(diff / norm);
}
