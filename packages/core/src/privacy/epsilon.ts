// From Rényi DP to (ε, δ)-DP, and ε of T rounds of the Poisson-subsampled Gaussian mechanism.
//
// The conversion is the improved one of Balle et al. 2020 ("Hypothesis Testing Interpretations and Rényi Differential
// Privacy", Thm 21) and Canonne, Kamath, Steinke 2020 (Prop. 12), as dp_accounting's `compute_epsilon` and Opacus's
// `get_privacy_spent` apply it: at each order α with RDP r,
//   ε(α) = r + log(1 − 1/α) − log(δ·α)/(α − 1)            for α > 1.01 (unstable and useless closer to 1),
//   ε(α) = 0  when δ² + expm1(−r) > 0                      (KL bound: δ ≥ √(1 − e^{−r}) already gives (0, δ)),
// and ε = max(0, min_α ε(α)). The clamp and the 1.01 floor are the two guards against the negative and zero ε values
// that Opacus and TF Privacy users ran into (privacy.md §3.1).

import { DEFAULT_RDP_ORDERS } from './orders.js';
import { checkDelta, checkNoiseMultiplier, checkOrders, checkRounds, checkSamplingRate, PrivacyParameterError } from './params.js';
import { sampledGaussianRdp } from './sampled-gaussian-rdp.js';

/** An (ε, δ) guarantee and where it came from. */
export interface PrivacySpent {
  /** ≥ 0; +Infinity when no order gives a finite bound (e.g. no noise). */
  epsilon: number;
  delta: number;
  /** The Rényi order that gives ε (the first one on a tie); null when ε is infinite. */
  order: number | null;
  /**
   * True when ε > 0 comes from the smallest or the largest order of the list: the true optimum may lie outside it, so ε
   * may be loose (widen the orders). Never set when ε is 0 or infinite.
   */
  orderAtEdge: boolean;
}

/** The parameters of a run of DP-FedAvg that the accountant needs. */
export interface SampledGaussianParams {
  /** q: each participant's probability of being in a round, in [0, 1]. */
  samplingRate: number;
  /** z: noise standard deviation over the clipping norm, ≥ 0. */
  noiseMultiplier: number;
  /** T: rounds, an integer ≥ 0. */
  rounds: number;
  /** δ in (0, 1). */
  delta: number;
  /** Rényi orders, each > 1; DEFAULT_RDP_ORDERS if absent. */
  orders?: readonly number[];
}

/** ε(α) at one order, with the two guards; +Infinity where no bound applies. */
function epsilonAtOrder(alpha: number, r: number, delta: number): number {
  if (Number.isNaN(r) || r === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (delta * delta + Math.expm1(-r) > 0) return 0;
  if (alpha > 1.01) return r + Math.log1p(-1 / alpha) - Math.log(delta * alpha) / (alpha - 1);
  return Number.POSITIVE_INFINITY;
}

/**
 * The smallest ε over the orders for which the mechanism with these RDP values (one per order, in nats) is (ε, δ)-DP.
 * Negative RDP values (rounding in a caller's sum) count as 0.
 */
export function epsilonFromRdp(orders: readonly number[], rdp: readonly number[], delta: number): PrivacySpent {
  checkOrders(orders);
  checkDelta(delta);
  if (rdp.length !== orders.length) throw new PrivacyParameterError(`got ${rdp.length} RDP values for ${orders.length} orders`);
  let best = Number.POSITIVE_INFINITY;
  let bestIndex = -1;
  for (let i = 0; i < orders.length; i++) {
    const e = epsilonAtOrder(orders[i]!, Math.max(0, rdp[i]!), delta);
    if (e < best) {
      best = e;
      bestIndex = i;
    }
  }
  if (bestIndex < 0) return { epsilon: Number.POSITIVE_INFINITY, delta, order: null, orderAtEdge: false };
  const order = orders[bestIndex]!;
  const epsilon = Math.max(0, best);
  const atEdge = order === Math.min(...orders) || order === Math.max(...orders);
  return { epsilon, delta, order, orderAtEdge: epsilon > 0 && atEdge };
}

/** RDP of T rounds: the per-round values times T (0 rounds cost nothing, even where one round is unbounded). */
export function composeRounds(perRound: readonly number[], rounds: number): number[] {
  checkRounds(rounds);
  return perRound.map((r) => (rounds === 0 ? 0 : r * rounds));
}

/** (ε, δ) after T rounds of DP-FedAvg with Poisson sampling rate q and noise multiplier z. */
export function privacySpent(params: SampledGaussianParams): PrivacySpent {
  const q = checkSamplingRate(params.samplingRate);
  const z = checkNoiseMultiplier(params.noiseMultiplier);
  const rounds = checkRounds(params.rounds);
  const delta = checkDelta(params.delta);
  const orders = checkOrders(params.orders ?? DEFAULT_RDP_ORDERS);
  return epsilonFromRdp(orders, composeRounds(sampledGaussianRdp(q, z, orders), rounds), delta);
}
