import { describe, expect, it } from 'vitest';
import { PrivacyLedger } from './ledger.js';
import { INTEGER_RDP_ORDERS } from './orders.js';
import { roundsWithinBudget } from './plan.js';

describe('PrivacyLedger', () => {
  it('allows the design document’s budget example up to round 879 and refuses round 880 (q 0.01, z 1, δ 1e-5, ε ≤ 2)', () => {
    // Prepare
    const ledger = new PrivacyLedger({ noiseMultiplier: 1, delta: 1e-5, epsilonBudget: 2, orders: INTEGER_RDP_ORDERS });

    // Execute
    const first = ledger.commit(0.01);
    let last = first;
    while (ledger.allows(0.01)) last = ledger.commit(0.01);

    // Assert: privacy.md §3.5.
    expect(first.epsilon).toBeCloseTo(0.9563, 4);
    expect(first.order).toBe(10);
    expect(ledger.committedRounds).toBe(879);
    expect(last.epsilon).toBeCloseTo(1.99962, 5);
    expect(ledger.spentAfter(0.01).epsilon).toBeCloseTo(2.00052, 5);
  });

  it('agrees with the planner at the default orders, and a resumed ledger picks up where it was', () => {
    // Prepare
    const plan = roundsWithinBudget({ samplingRate: 0.01, noiseMultiplier: 1, delta: 1e-5, epsilon: 2 });
    const ledger = new PrivacyLedger({ noiseMultiplier: 1, delta: 1e-5, epsilonBudget: 2 });

    // Execute
    while (ledger.allows(0.01)) ledger.commit(0.01);
    const resumed = new PrivacyLedger({ noiseMultiplier: 1, delta: 1e-5, committed: Array<number>(plan.rounds).fill(0.01) });

    // Assert: fractional orders only tighten ε, so at least as many rounds fit.
    expect(ledger.committedRounds).toBe(plan.rounds);
    expect(plan.rounds).toBeGreaterThanOrEqual(879);
    expect(resumed.spent().epsilon).toBeCloseTo(ledger.spent().epsilon, 12);
  });

  it('adds rounds of different sampling rates order by order; nothing is spent before the first', () => {
    // Prepare
    const ledger = new PrivacyLedger({ noiseMultiplier: 1.2, delta: 1e-6 });

    // Execute
    const none = ledger.spent();
    const one = ledger.commit(0.1);
    const two = ledger.commit(0.5);

    // Assert
    expect(none.epsilon).toBe(0);
    expect(two.epsilon).toBeGreaterThan(one.epsilon);
    expect(new PrivacyLedger({ noiseMultiplier: 1.2, delta: 1e-6, committed: [0.5, 0.1] }).spent().epsilon).toBeCloseTo(two.epsilon, 12);
  });
});
