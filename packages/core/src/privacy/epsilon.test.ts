import { describe, expect, it } from 'vitest';
import { composeRounds, epsilonFromRdp, privacySpent } from './epsilon.js';
import { DEFAULT_RDP_ORDERS, INTEGER_RDP_ORDERS } from './orders.js';
import { PrivacyParameterError } from './params.js';
import { sampledGaussianRdp } from './sampled-gaussian-rdp.js';

/** Opacus's DEFAULT_ALPHAS: 1.1, …, 10.9, 12, …, 63. */
const OPACUS_ALPHAS = [...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10), ...Array.from({ length: 52 }, (_, i) => 12 + i)];
const ORDERS_2_TO_32 = Array.from({ length: 31 }, (_, i) => 2 + i);

describe('privacySpent: published values (privacy.md §3.4)', () => {
  it.each([
    // TF Privacy compute_dp_sgd_privacy_test.py, Test0 (n 60000, batch 150, 15 epochs) and Test1 (n 100000, batch 100, 30 epochs).
    ['TF Privacy Test0', 0.0025, 1.3, 6000, 1e-5, 0.7242234026109595, 19],
    ['TF Privacy Test1', 0.001, 1.0, 30000, 1e-7, 1.4154988495444842, 13],
  ])('%s: q %d, z %d, %d steps, δ %d → ε %d at order %d (to 1e-9)', (_name, q, z, steps, delta, epsilon, order) => {
    // Execute: the default orders contain TF Privacy's.
    const spent = privacySpent({ samplingRate: q, noiseMultiplier: z, rounds: steps, delta });
    // Assert
    expect(Math.abs(spent.epsilon - epsilon)).toBeLessThan(1e-9);
    expect(spent.order).toBe(order);
    expect(spent.orderAtEdge).toBe(false);
  });

  it('Opacus test_rdp_accountant: q 0.04, z 1.5, int(90/0.04) steps, δ 1e-5 → 7.32911117143 at α 3.9 (to 1e-9)', () => {
    const steps = Math.trunc(90 / 0.04);
    for (const orders of [OPACUS_ALPHAS, DEFAULT_RDP_ORDERS]) {
      const spent = privacySpent({ samplingRate: 0.04, noiseMultiplier: 1.5, rounds: steps, delta: 1e-5, orders });
      expect(Math.abs(spent.epsilon - 7.32911117143)).toBeLessThan(1e-9);
      expect(spent.order).toBeCloseTo(3.9, 12);
    }
  });

  it('Opacus rdp.py docstring: (1e-5, 1.0, 10 steps) composed with (1e-4, 3.0, 4 steps), orders 2..32, δ 1e-5 → 0.336 at 23', () => {
    // Prepare: RDP adds up order by order across different mechanisms.
    const a = composeRounds(sampledGaussianRdp(1e-5, 1.0, ORDERS_2_TO_32), 10);
    const b = composeRounds(sampledGaussianRdp(1e-4, 3.0, ORDERS_2_TO_32), 4);
    // Execute
    const spent = epsilonFromRdp(
      ORDERS_2_TO_32,
      a.map((r, i) => r + b[i]!),
      1e-5,
    );
    // Assert: published to 3 digits.
    expect(Math.abs(spent.epsilon - 0.336)).toBeLessThan(5e-4);
    expect(spent.order).toBe(23);
  });

  it('dp_accounting test_compute_epsilon_delta_pure_dp: RDP 1.1 at orders 2..32, δ 1e-5 → 1.32783806176 at 32, flagged as an edge', () => {
    const spent = epsilonFromRdp(
      ORDERS_2_TO_32,
      ORDERS_2_TO_32.map(() => 1.1),
      1e-5,
    );
    expect(Math.abs(spent.epsilon - 1.32783806176)).toBeLessThan(1e-9);
    expect(spent.order).toBe(32);
    expect(spent.orderAtEdge).toBe(true);
  });

  it('dp_accounting test_compute_epsilon_delta_gaussian: q 1, z 4.530877117 (exactly (1, 1e-6)-DP), orders 1.001..99.999 → 1', () => {
    // dp_accounting's orders start at 1.000, which this accountant refuses (orders must exceed 1); 1.000 only ever
    // gives ∞ there (the conversion needs α > 1.01), so leaving it out changes nothing.
    const orders = Array.from({ length: 98999 }, (_, i) => 0.001 * (1001 + i));
    const spent = epsilonFromRdp(orders, sampledGaussianRdp(1, 4.530877117, orders), 1e-6);
    // assertAlmostEqual: 7 places.
    expect(Math.abs(spent.epsilon - 1)).toBeLessThan(5e-8);
    // Integer orders only (privacy.md §3.4): 1.0000002896 at 22.
    const integer = privacySpent({ samplingRate: 1, noiseMultiplier: 4.530877117, rounds: 1, delta: 1e-6, orders: INTEGER_RDP_ORDERS });
    expect(Math.abs(integer.epsilon - 1.0000002896)).toBeLessThan(1e-9);
    expect(integer.order).toBe(22);
  });

  it('gives the design document’s utility figures with integer orders (privacy.md §3.6, 3 significant digits)', () => {
    const eps = (q: number, z: number, rounds: number, delta: number) =>
      privacySpent({ samplingRate: q, noiseMultiplier: z, rounds, delta, orders: INTEGER_RDP_ORDERS }).epsilon;
    expect(eps(10 / 40, 1, 30, 1e-3)).toBeCloseTo(8.58, 2);
    expect(eps(10 / 40, 2, 30, 1e-3)).toBeCloseTo(2.68, 2);
    expect(eps(25 / 950, 1, 1000, 1e-4)).toBeCloseTo(5.08, 2);
    expect(eps(25 / 950, 1.5, 1000, 1e-4)).toBeCloseTo(2.54, 2);
  });
});

describe('privacySpent: shape', () => {
  const base = { samplingRate: 0.01, noiseMultiplier: 1, rounds: 100, delta: 1e-5 };

  it('increases with the number of rounds', () => {
    const eps = [1, 10, 100, 1000, 10000].map((rounds) => privacySpent({ ...base, rounds }).epsilon);
    for (let i = 1; i < eps.length; i++) expect(eps[i]!).toBeGreaterThan(eps[i - 1]!);
  });

  it('decreases as the noise multiplier grows', () => {
    const eps = [0.5, 0.8, 1, 2, 5].map((noiseMultiplier) => privacySpent({ ...base, noiseMultiplier }).epsilon);
    for (let i = 1; i < eps.length; i++) expect(eps[i]!).toBeLessThan(eps[i - 1]!);
  });

  it('is 0 when nobody is sampled or no round ran, and ∞ without noise', () => {
    expect(privacySpent({ ...base, samplingRate: 0 })).toMatchObject({ epsilon: 0, orderAtEdge: false });
    expect(privacySpent({ ...base, rounds: 0 })).toMatchObject({ epsilon: 0, orderAtEdge: false });
    expect(privacySpent({ ...base, rounds: 0, noiseMultiplier: 0 }).epsilon).toBe(0);
    expect(privacySpent({ ...base, noiseMultiplier: 0 })).toEqual({
      epsilon: Number.POSITIVE_INFINITY,
      delta: 1e-5,
      order: null,
      orderAtEdge: false,
    });
  });

  it('is never negative, even where the formula is (a tiny RDP with a large δ)', () => {
    const spent = privacySpent({ samplingRate: 1e-6, noiseMultiplier: 50, rounds: 1, delta: 0.5 });
    expect(spent.epsilon).toBe(0);
    expect(epsilonFromRdp([2, 3], [-1e-18, 0], 1e-5).epsilon).toBe(0);
  });

  it('flags an optimum at the largest order: many rounds at a high sampling rate need small orders, few need large ones', () => {
    const narrow = [2, 3, 4, 5];
    const spent = privacySpent({ samplingRate: 0.001, noiseMultiplier: 2, rounds: 1, delta: 1e-10, orders: narrow });
    expect(spent.order).toBe(5);
    expect(spent.orderAtEdge).toBe(true);
    const wide = privacySpent({ samplingRate: 0.001, noiseMultiplier: 2, rounds: 1, delta: 1e-10 });
    expect(wide.orderAtEdge).toBe(false);
    expect(wide.epsilon).toBeLessThan(spent.epsilon);
  });

  it.each([
    [{ rounds: -1 }],
    [{ rounds: 1.5 }],
    [{ delta: 0 }],
    [{ delta: 1 }],
    [{ samplingRate: 2 }],
    [{ noiseMultiplier: -0.5 }],
    [{ orders: [] }],
    [{ orders: [0.5, 2] }],
  ])('refuses %j with a PrivacyParameterError that names it', (patch) => {
    expect(() => privacySpent({ ...base, ...patch })).toThrow(PrivacyParameterError);
  });

  it('refuses RDP and order lists of different lengths', () => {
    expect(() => epsilonFromRdp([2, 3], [0.1], 1e-5)).toThrow(/1 RDP values for 2 orders/);
  });
});
