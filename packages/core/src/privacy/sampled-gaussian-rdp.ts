// Rényi DP of the Poisson-subsampled Gaussian mechanism: each participant is included independently with probability q,
// and the sum of clipped contributions gets Gaussian noise of standard deviation z times the clipping norm.
//
// Mironov, Talwar, Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism" (arXiv:1908.10530, §3.3):
// ε_RDP(α) = log(A_α)/(α − 1), with A_α = E_{x∼N(0,z²)}[((1 − q) + q·exp((2x − 1)/(2z²)))^α].
//  - integer α: A_α = Σ_{k=0}^{α} C(α,k)·(1 − q)^{α−k}·q^k·exp((k² − k)/(2z²)), summed in log space;
//  - fractional α: the integral split at z0 = z²·log(1/q − 1) + 1/2 and each half expanded as a generalised binomial
//    series whose terms carry an erfc factor (see `logAFractional`).
// This is the computation of TF Privacy's rdp_accountant.py, Opacus's accountants/analysis/rdp.py and dp_accounting's
// rdp_privacy_accountant.py, written independently; the tests hold it to their published numbers. Composition over T
// rounds multiplies by T (RDP adds up at each order).

import { logErfc } from './log-erfc.js';
import { logAdd, logSub, logSumExp } from './log-space.js';
import { checkNoiseMultiplier, checkOrders, checkSamplingRate } from './params.js';

/** dp_accounting's cap on the fractional series; an order that has not converged by then is left out (RDP = ∞). */
const MAX_FRACTIONAL_TERMS = 1000;

/** log A_α for integer α ≥ 2 and 0 < q < 1. */
function logAInteger(q: number, z: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoZ2 = 2 * z * z;
  const terms = new Array<number>(alpha + 1);
  let logBinom = 0; // log C(α, k), built up one factor at a time
  for (let k = 0; k <= alpha; k++) {
    if (k > 0) logBinom += Math.log(alpha - k + 1) - Math.log(k);
    terms[k] = logBinom + k * logQ + (alpha - k) * log1mQ + (k * k - k) / twoZ2;
  }
  return logSumExp(terms);
}

/**
 * log A_α for fractional α > 1 and 0 < q < 1 (Mironov et al. 2019, §3.3). A_α = A0 + A1, the parts of the integral below
 * and above z0; term i of each is C(α,i)·(q and 1 − q powers)·exp((m² − m)/(2z²))·erfc(…)/2. For i > α the binomial
 * coefficients alternate in sign. The signed sums are exact (TF Privacy and Opacus subtract the negative terms);
 * dp_accounting adds their absolute values instead, an upper bound that cannot fail numerically. Here the positive and
 * negative terms are summed apart and subtracted once at the end; should rounding ever leave a part non-positive, the
 * absolute-value sum is used for it (a valid, slightly larger bound). Stops, as dp_accounting does, once both terms
 * decrease and are below e^-30 of the total; returns +Infinity (the order is then ignored) if that takes too long.
 */
function logAFractional(q: number, z: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoZ2 = 2 * z * z;
  const sqrt2Z = Math.SQRT2 * z;
  const z0 = z * z * (log1mQ - logQ) + 0.5; // z²·log(1/q − 1) + 1/2
  const LOG_HALF = Math.log(0.5);
  let pos0 = Number.NEGATIVE_INFINITY;
  let neg0 = Number.NEGATIVE_INFINITY;
  let pos1 = Number.NEGATIVE_INFINITY;
  let neg1 = Number.NEGATIVE_INFINITY;
  let lastS0 = Number.NEGATIVE_INFINITY;
  let lastS1 = Number.NEGATIVE_INFINITY;
  let logAbsBinom = 0; // log |C(α, i)|
  let positive = true; // sign of C(α, i)
  for (let i = 0; i < MAX_FRACTIONAL_TERMS; i++) {
    if (i > 0) {
      const factor = (alpha - i + 1) / i;
      logAbsBinom += Math.log(Math.abs(factor));
      if (factor < 0) positive = !positive;
    }
    const j = alpha - i;
    const logT0 = logAbsBinom + i * logQ + j * log1mQ;
    const logT1 = logAbsBinom + j * logQ + i * log1mQ;
    const logE0 = LOG_HALF + logErfc((i - z0) / sqrt2Z);
    const logE1 = LOG_HALF + logErfc((z0 - j) / sqrt2Z);
    const s0 = logT0 + (i * i - i) / twoZ2 + logE0;
    const s1 = logT1 + (j * j - j) / twoZ2 + logE1;
    if (positive) {
      pos0 = logAdd(pos0, s0);
      pos1 = logAdd(pos1, s1);
    } else {
      neg0 = logAdd(neg0, s0);
      neg1 = logAdd(neg1, s1);
    }
    const total = logAdd(logAdd(pos0, neg0), logAdd(pos1, neg1));
    if (s0 < lastS0 && s1 < lastS1 && Math.max(s0, s1) < total - 30) {
      const part0 = neg0 < pos0 ? logSub(pos0, neg0) : logAdd(pos0, neg0);
      const part1 = neg1 < pos1 ? logSub(pos1, neg1) : logAdd(pos1, neg1);
      return logAdd(part0, part1);
    }
    lastS0 = s0;
    lastS1 = s1;
  }
  return Number.POSITIVE_INFINITY;
}

/** RDP of one round at order α (already validated inputs). */
function rdpAtOrder(q: number, z: number, alpha: number): number {
  if (q === 0) return 0;
  if (z === 0) return Number.POSITIVE_INFINITY;
  if (q === 1) return alpha / (2 * z * z);
  const logA = Number.isInteger(alpha) ? logAInteger(q, z, alpha) : logAFractional(q, z, alpha);
  // A_α ≥ 1 (Jensen: the ratio inside has mean 1 and α > 1), so a negative log A is rounding: clamp it to 0.
  return Math.max(0, logA) / (alpha - 1);
}

/**
 * RDP of one round of the Poisson-subsampled Gaussian mechanism (sampling rate q, noise multiplier z) at each order
 * (ε_RDP(α), in nats). T rounds cost T times as much at every order; different mechanisms add up order by order.
 * Entries may be +Infinity (z = 0, or an order whose series did not converge).
 */
export function sampledGaussianRdp(samplingRate: number, noiseMultiplier: number, orders: readonly number[]): number[] {
  const q = checkSamplingRate(samplingRate);
  const z = checkNoiseMultiplier(noiseMultiplier);
  return checkOrders(orders).map((alpha) => rdpAtOrder(q, z, alpha));
}
