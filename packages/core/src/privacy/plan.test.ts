import { describe, expect, it } from 'vitest';
import { privacySpent } from './epsilon.js';
import { INTEGER_RDP_ORDERS } from './orders.js';
import { PrivacyParameterError } from './params.js';
import { noiseMultiplierForBudget, roundsWithinBudget } from './plan.js';

describe('roundsWithinBudget', () => {
  it('stops the design document’s budget example after round 879 (q 0.01, z 1, δ 1e-5, ε ≤ 2, integer orders)', () => {
    // Execute
    const plan = roundsWithinBudget({ samplingRate: 0.01, noiseMultiplier: 1, delta: 1e-5, epsilon: 2, orders: INTEGER_RDP_ORDERS });
    // Assert: privacy.md §3.5 gives 879 (ε 1.99962), 880 would give 2.00052, one round 0.9563 at order 10.
    expect(plan.rounds).toBe(879);
    expect(plan.spent.epsilon).toBeCloseTo(1.99962, 5);
    expect(plan.next?.epsilon).toBeCloseTo(2.00052, 5);
    const one = privacySpent({ samplingRate: 0.01, noiseMultiplier: 1, rounds: 1, delta: 1e-5, orders: INTEGER_RDP_ORDERS });
    expect(one.epsilon).toBeCloseTo(0.9563, 4);
    expect(one.order).toBe(10);
  });

  it('allows more rounds with the default (fractional) orders, never fewer', () => {
    const plan = roundsWithinBudget({ samplingRate: 0.01, noiseMultiplier: 1, delta: 1e-5, epsilon: 2 });
    expect(plan.rounds).toBeGreaterThanOrEqual(879);
    expect(plan.spent.epsilon).toBeLessThanOrEqual(2);
    expect(plan.next!.epsilon).toBeGreaterThan(2);
  });

  it('answers 0 when one round already exceeds the budget, and ∞ when nobody is sampled', () => {
    expect(roundsWithinBudget({ samplingRate: 0.5, noiseMultiplier: 0.5, delta: 1e-5, epsilon: 0.1 }).rounds).toBe(0);
    expect(roundsWithinBudget({ samplingRate: 0.5, noiseMultiplier: 0, delta: 1e-5, epsilon: 100 }).rounds).toBe(0);
    const none = roundsWithinBudget({ samplingRate: 0, noiseMultiplier: 1, delta: 1e-5, epsilon: 1 });
    expect(none.rounds).toBe(Number.POSITIVE_INFINITY);
    expect(none.next).toBeNull();
  });

  it('refuses a negative budget', () => {
    expect(() => roundsWithinBudget({ samplingRate: 0.1, noiseMultiplier: 1, delta: 1e-5, epsilon: -1 })).toThrow(PrivacyParameterError);
  });
});

describe('noiseMultiplierForBudget', () => {
  it.each([
    [0.01, 1000, 1e-5, 1],
    [0.04, 2250, 1e-5, 8],
    [0.25, 30, 1e-3, 3],
    [1, 1, 1e-6, 1],
  ])('q %d, %d rounds, δ %d, ε ≤ %d: the result meets the budget and 0.01 % less noise does not', (q, rounds, delta, epsilon) => {
    // Execute
    const plan = noiseMultiplierForBudget({ samplingRate: q, rounds, delta, epsilon });
    // Assert
    const at = (z: number) => privacySpent({ samplingRate: q, noiseMultiplier: z, rounds, delta }).epsilon;
    expect(plan.spent.epsilon).toBeLessThanOrEqual(epsilon);
    expect(at(plan.noiseMultiplier)).toBeLessThanOrEqual(epsilon);
    expect(at(plan.noiseMultiplier * (1 - 1e-4))).toBeGreaterThan(epsilon);
  });

  it('lands just below Opacus get_noise_multiplier (ε 8, δ 1e-5, q 0.04), whose search stops within 0.01 of the target', () => {
    // Opacus publishes 1.416 for 90 epochs (2250 steps) and 1.3562 for 2000 steps (privacy.md §3.4), with its alphas.
    const opacusAlphas = [...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10), ...Array.from({ length: 52 }, (_, i) => 12 + i)];
    for (const [rounds, published] of [
      [2250, 1.416],
      [2000, 1.3562],
    ] as const) {
      const z = noiseMultiplierForBudget({ samplingRate: 0.04, rounds, delta: 1e-5, epsilon: 8, orders: opacusAlphas }).noiseMultiplier;
      expect(z).toBeLessThanOrEqual(published);
      expect(published - z).toBeLessThan(1e-3);
    }
  });

  it('needs no noise when nothing is released', () => {
    expect(noiseMultiplierForBudget({ samplingRate: 0, rounds: 100, delta: 1e-5, epsilon: 1 }).noiseMultiplier).toBe(0);
    expect(noiseMultiplierForBudget({ samplingRate: 0.1, rounds: 0, delta: 1e-5, epsilon: 1 }).noiseMultiplier).toBe(0);
  });

  it('refuses a budget that no noise multiplier in range can miss', () => {
    expect(() => noiseMultiplierForBudget({ samplingRate: 1, rounds: 1, delta: 1e-5, epsilon: 1e300 })).toThrow(/does not constrain/);
  });
});
