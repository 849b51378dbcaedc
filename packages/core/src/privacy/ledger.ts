// The accountant inside a DP run: RDP of the Poisson-subsampled Gaussian, added up order by order over the committed
// rounds (each with its own sampling rate), converted to (ε, δ) after each. It answers, before a round starts, whether
// that round would take ε past the run's budget.

import { epsilonFromRdp, type PrivacySpent } from './epsilon.js';
import { DEFAULT_RDP_ORDERS } from './orders.js';
import { checkDelta, checkNoiseMultiplier, checkOrders } from './params.js';
import { sampledGaussianRdp } from './sampled-gaussian-rdp.js';

export interface PrivacyLedgerOptions {
  readonly noiseMultiplier: number;
  readonly delta: number;
  /** ε the run may not exceed; none: account without stopping. */
  readonly epsilonBudget?: number;
  /** Default DEFAULT_RDP_ORDERS, as `npm run privacy`. */
  readonly orders?: readonly number[];
  /** The sampling rates of the rounds already committed (a resumed run). */
  readonly committed?: readonly number[];
}

export class PrivacyLedger {
  private readonly orders: readonly number[];
  private readonly z: number;
  private readonly delta: number;
  private readonly budget: number;
  private rdp: number[];
  private rounds = 0;
  /** RDP of one round by sampling rate: a run has one rate, or a few (expected count over a changing pool). */
  private readonly perRound = new Map<number, number[]>();

  constructor(options: PrivacyLedgerOptions) {
    this.orders = checkOrders(options.orders ?? DEFAULT_RDP_ORDERS);
    this.z = checkNoiseMultiplier(options.noiseMultiplier);
    this.delta = checkDelta(options.delta);
    this.budget = options.epsilonBudget ?? Number.POSITIVE_INFINITY;
    this.rdp = this.orders.map(() => 0);
    for (const q of options.committed ?? []) this.commit(q);
  }

  /** Rounds committed so far. */
  get committedRounds(): number {
    return this.rounds;
  }

  /** The guarantee after the committed rounds. */
  spent(): PrivacySpent {
    return epsilonFromRdp(this.orders, this.rdp, this.delta);
  }

  /** The guarantee one more round at sampling rate q would leave. */
  spentAfter(q: number): PrivacySpent {
    return epsilonFromRdp(this.orders, this.added(q), this.delta);
  }

  /** Whether one more round at sampling rate q keeps ε within the budget. */
  allows(q: number): boolean {
    return this.spentAfter(q).epsilon <= this.budget;
  }

  /** Counts one released round at sampling rate q; returns the guarantee after it. */
  commit(q: number): PrivacySpent {
    this.rdp = this.added(q);
    this.rounds++;
    return this.spent();
  }

  private added(q: number): number[] {
    let perRound = this.perRound.get(q);
    if (!perRound) {
      if (this.perRound.size >= 64) this.perRound.clear();
      perRound = sampledGaussianRdp(q, this.z, this.orders);
      this.perRound.set(q, perRound);
    }
    return this.rdp.map((r, i) => r + perRound[i]!);
  }
}
