// Gaussian noise for central DP-FedAvg.
//
// Sampler: Box–Muller in float64 on 53-bit uniforms from a RandomSource (the platform CSPRNG in a run): each pair of
// uniforms (u1, u2) gives two independent N(0, 1) values √(−2 ln u1)·cos(2πu2) and √(−2 ln u1)·sin(2πu2), with u1 taken
// in (0, 1] so the logarithm is finite. Chosen because it is exact in distribution up to float64 rounding, needs no
// rejection loop (constant time per sample) and costs ~1 ms per 80k values, a round's worth for the MNIST MLP.
//
// Caveat (privacy.md §3.2): textbook floating-point noise is not exactly the continuous Gaussian the accountant
// assumes. Its rounding leaves gaps and a non-uniform grid that an attacker who sees the exact output bits may exploit
// (Mironov 2012 for Laplace; Jin et al. 2022 for Gaussian). The result here is further rounded to float32 when the
// weights are updated, which blurs but does not provably close that channel. The principled fix is a discrete
// Gaussian on a fine grid (Canonne, Kamath, Steinke 2020), planned with distributed DP (§3.8).

import { uniforms, type RandomSource } from './random-source.js';

/** Adds N(0, σ²) to every entry of `target`, in place. σ = 0 leaves it unchanged. */
export function addGaussianNoise(target: Float64Array, sigma: number, source: RandomSource): void {
  if (!(Number.isFinite(sigma) && sigma >= 0)) throw new RangeError(`addGaussianNoise: sigma must be finite and ≥ 0, got ${sigma}`);
  if (sigma === 0) return;
  const n = target.length;
  const u = uniforms(source, n + (n % 2));
  for (let i = 0; i < n; i += 2) {
    const radius = sigma * Math.sqrt(-2 * Math.log(1 - u[i]!));
    const angle = 2 * Math.PI * u[i + 1]!;
    target[i] = target[i]! + radius * Math.cos(angle);
    if (i + 1 < n) target[i + 1] = target[i + 1]! + radius * Math.sin(angle);
  }
}
