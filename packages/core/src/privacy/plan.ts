// Planning a DP run before it starts: the smallest noise multiplier that keeps T rounds within an ε budget, and the most
// rounds that a noise multiplier allows. Both rest on monotonicity: ε grows with the number of rounds (RDP adds up at
// every order) and shrinks as the noise multiplier grows (more noise is a post-processing of less). Each search first
// brackets the answer by doubling, then bisects; every loop has a fixed cap.

import { composeRounds, epsilonFromRdp, type PrivacySpent } from './epsilon.js';
import { DEFAULT_RDP_ORDERS } from './orders.js';
import {
  checkDelta,
  checkEpsilon,
  checkNoiseMultiplier,
  checkOrders,
  checkRounds,
  checkSamplingRate,
  PrivacyParameterError,
} from './params.js';
import { sampledGaussianRdp } from './sampled-gaussian-rdp.js';

/** The noise multiplier search looks no higher than this (far beyond any useful value: it makes ε = 0). */
const MAX_NOISE_MULTIPLIER = 2 ** 64;
/** …and no lower than this. */
const MIN_NOISE_MULTIPLIER = 2 ** -40;
/** Relative width at which the noise multiplier bisection stops. */
const NOISE_TOLERANCE = 1e-9;

export interface NoiseMultiplierQuery {
  samplingRate: number;
  rounds: number;
  delta: number;
  /** The budget: ε after `rounds` rounds must be at most this. */
  epsilon: number;
  orders?: readonly number[];
}

export interface NoiseMultiplierPlan {
  /**
   * The smallest noise multiplier (to a relative 1e-9, rounded up) whose ε after `rounds` rounds is within the budget;
   * 0 when nothing is released (q = 0 or no rounds). Round it up, never down, before using it.
   */
  noiseMultiplier: number;
  /** The guarantee at that noise multiplier. */
  spent: PrivacySpent;
}

/** The smallest noise multiplier z for which T rounds at sampling rate q stay within (ε, δ). */
export function noiseMultiplierForBudget(query: NoiseMultiplierQuery): NoiseMultiplierPlan {
  const q = checkSamplingRate(query.samplingRate);
  const rounds = checkRounds(query.rounds);
  const delta = checkDelta(query.delta);
  const budget = checkEpsilon(query.epsilon);
  const orders = checkOrders(query.orders ?? DEFAULT_RDP_ORDERS);
  const spentAt = (z: number) => epsilonFromRdp(orders, composeRounds(sampledGaussianRdp(q, z, orders), rounds), delta);
  if (q === 0 || rounds === 0) return { noiseMultiplier: 0, spent: spentAt(0) };

  // Bracket: lo misses the budget, hi meets it.
  let hi = 1;
  let spentHi = spentAt(hi);
  while (spentHi.epsilon > budget) {
    if (hi >= MAX_NOISE_MULTIPLIER) throw new PrivacyParameterError(`no noise multiplier up to 2^64 keeps ε within ${budget}`);
    hi *= 2;
    spentHi = spentAt(hi);
  }
  let lo = hi / 2;
  while (spentAt(lo).epsilon <= budget) {
    if (lo <= MIN_NOISE_MULTIPLIER)
      throw new PrivacyParameterError(
        `every noise multiplier down to 2^-40 keeps ε within ${budget}: the budget does not constrain the noise`,
      );
    hi = lo;
    lo /= 2;
  }
  spentHi = spentAt(hi);
  // Bisect; the bracket halves each time, so 200 steps are far more than the ~30 that 1e-9 needs.
  for (let i = 0; i < 200 && hi - lo > NOISE_TOLERANCE * hi; i++) {
    const mid = (lo + hi) / 2;
    const spentMid = spentAt(mid);
    if (spentMid.epsilon <= budget) {
      hi = mid;
      spentHi = spentMid;
    } else {
      lo = mid;
    }
  }
  return { noiseMultiplier: hi, spent: spentHi };
}

export interface RoundsQuery {
  samplingRate: number;
  noiseMultiplier: number;
  delta: number;
  /** The budget: ε after the rounds must be at most this. */
  epsilon: number;
  orders?: readonly number[];
}

export interface RoundsPlan {
  /**
   * The most rounds within the budget (0 if even one round exceeds it); +Infinity when nothing is released (q = 0) or
   * when more than 2^52 rounds still fit.
   */
  rounds: number;
  /** The guarantee after those rounds. */
  spent: PrivacySpent;
  /** The guarantee one round later, the first that would exceed the budget; null when rounds is infinite. */
  next: PrivacySpent | null;
}

/** The largest number of rounds T that sampling rate q and noise multiplier z allow within (ε, δ). */
export function roundsWithinBudget(query: RoundsQuery): RoundsPlan {
  const q = checkSamplingRate(query.samplingRate);
  const z = checkNoiseMultiplier(query.noiseMultiplier);
  const delta = checkDelta(query.delta);
  const budget = checkEpsilon(query.epsilon);
  const orders = checkOrders(query.orders ?? DEFAULT_RDP_ORDERS);
  const perRound = sampledGaussianRdp(q, z, orders);
  const spentAt = (rounds: number) => epsilonFromRdp(orders, composeRounds(perRound, rounds), delta);
  if (perRound.every((r) => r === 0)) return { rounds: Number.POSITIVE_INFINITY, spent: spentAt(0), next: null };

  // Bracket: lo rounds fit, hi rounds do not.
  let lo = 0;
  let hi = 1;
  while (spentAt(hi).epsilon <= budget) {
    lo = hi;
    hi *= 2;
    if (hi > Number.MAX_SAFE_INTEGER) return { rounds: Number.POSITIVE_INFINITY, spent: spentAt(lo), next: null };
  }
  // Bisect over integers: at most 53 steps.
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (spentAt(mid).epsilon <= budget) lo = mid;
    else hi = mid;
  }
  return { rounds: lo, spent: spentAt(lo), next: spentAt(hi) };
}
