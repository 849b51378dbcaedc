// Noise for central DP-FedAvg: a discrete Gaussian on a fine grid (privacy.md §3.2, "Noise source").
//
// Why not floating-point Gaussian noise: a textbook sampler (Box–Muller, say) leaves gaps and an uneven grid in the
// low bits of its output, which an observer of the exact result can exploit (Mironov 2012 for Laplace; Jin et al. 2022
// for Gaussian). Here the released sum is a multiple of a grid step g: the clipped sum is rounded to the grid and
// integer noise from the discrete Gaussian N_Z(0, σ²/g²) is added in grid units, so every output is an integer times g,
// exactly representable, whatever the noise was.
//
// Sampler: Canonne, Kamath and Steinke 2020, "The Discrete Gaussian for Differential Privacy", Algorithm 3 (discrete
// Laplace proposals of scale t = ⌊σ⌋ + 1, accepted with probability exp(−(|y| − σ²/t)²/(2σ²))) with its discrete
// Laplace sampler (Algorithm 2), written from the paper. Like TF Privacy's implementation, parameters are floats and
// each Bernoulli(p) compares a 53-bit uniform from the CSPRNG with p, instead of the paper's exact rational arithmetic.
// The loops' running time depends only on the randomness, never on the data.
//
// Accounting: the accountant treats the noise as the continuous Gaussian of the same σ. For one release the discrete
// Gaussian's Rényi divergences are at most the continuous one's (CKS 2020), so that is conservative there; for the
// Poisson-subsampled mechanism it is the usual approximation (TF Privacy makes it too), not a theorem proved here.

import { uniforms, type RandomSource } from './random-source.js';

/** A stream of 53-bit uniforms in [0, 1), drawn from `source` in blocks. */
export function uniformStream(source: RandomSource, block = 8192): () => number {
  let buffer: Float64Array = new Float64Array(0);
  let at = 0;
  return () => {
    if (at === buffer.length) {
      buffer = uniforms(source, block);
      at = 0;
    }
    return buffer[at++]!;
  };
}

const E_MINUS_1 = Math.exp(-1);

/** P(y) ∝ exp(−|y|/t) on the integers, t ≥ 1 (CKS 2020, Algorithm 2 with s = 1). */
function discreteLaplace(t: number, next: () => number): number {
  for (;;) {
    const u = Math.floor(next() * t);
    if (next() >= Math.exp(-u / t)) continue;
    let v = 0;
    while (next() < E_MINUS_1) v++;
    const magnitude = u + t * v;
    const negative = next() < 0.5;
    if (negative && magnitude === 0) continue;
    return negative ? -magnitude : magnitude;
  }
}

/** One draw from the discrete Gaussian N_Z(0, σ²): P(y) ∝ exp(−y²/(2σ²)) on the integers. σ = 0 gives 0. */
export function sampleDiscreteGaussian(sigma: number, next: () => number): number {
  if (!(Number.isFinite(sigma) && sigma >= 0)) throw new RangeError(`discrete Gaussian: sigma must be finite and ≥ 0, got ${sigma}`);
  if (sigma === 0) return 0;
  const t = Math.floor(sigma) + 1;
  const variance = sigma * sigma;
  for (;;) {
    const y = discreteLaplace(t, next);
    const gap = Math.abs(y) - variance / t;
    if (next() < Math.exp(-(gap * gap) / (2 * variance))) return y;
  }
}

/** The grid a DP sum is released on: 2^-24 of the clip, so rounding moves a coordinate by at most 3e-8·C. */
export function noiseGrid(clip: number): number {
  return clip * 2 ** -24;
}

/**
 * Rounds every entry of `target` to the nearest multiple of `grid` and adds `grid`·N_Z(0, (σ/grid)²), in place, so
 * the result is an integer times `grid` and the noise has standard deviation σ (to within the discreteness of the grid).
 */
export function addDiscreteGaussianNoise(target: Float64Array, sigma: number, grid: number, source: RandomSource): void {
  if (!(Number.isFinite(grid) && grid > 0)) throw new RangeError(`discrete Gaussian: grid must be positive and finite, got ${grid}`);
  if (!(Number.isFinite(sigma) && sigma >= 0)) throw new RangeError(`discrete Gaussian: sigma must be finite and ≥ 0, got ${sigma}`);
  const next = uniformStream(source);
  const steps = sigma / grid;
  for (let i = 0; i < target.length; i++) {
    const onGrid = Math.round(target[i]! / grid);
    if (!Number.isSafeInteger(onGrid))
      throw new RangeError(`discrete Gaussian: entry ${i} (${target[i]}) is too large for the grid ${grid}`);
    target[i] = (onGrid + sampleDiscreteGaussian(steps, next)) * grid;
  }
}
