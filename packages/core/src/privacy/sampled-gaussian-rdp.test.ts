import { describe, expect, it } from 'vitest';
import { PrivacyParameterError } from './params.js';
import { sampledGaussianRdp } from './sampled-gaussian-rdp.js';

describe('sampledGaussianRdp', () => {
  it('reproduces dp_accounting test_compute_rdp_poisson_sampled_gaussian at the integer orders (q 0.01, z 2.5, 50 steps)', () => {
    // Prepare: google/differential-privacy rdp_privacy_accountant_test.py publishes 50 x RDP with rtol 1e-4.
    const orders = [5, 50, 100];
    const published = [2.18075656e-3, 2.38460375e-2, 1.67416308e2];
    // Execute
    const rdp = sampledGaussianRdp(0.01, 2.5, orders).map((r) => 50 * r);
    // Assert: far inside the test's rtol 1e-4 (the published values have 9 digits).
    rdp.forEach((r, i) => expect(Math.abs(r / published[i]! - 1)).toBeLessThan(1e-8));
  });

  it('computes fractional orders exactly (signed series), below dp_accounting’s absolute-value upper bound', () => {
    // Prepare: the same test publishes 6.70579741e-4 (1.5) and 1.08548710e-3 (2.5), computed since dp_accounting sums
    // the series' absolute values (an upper bound). The exact values, by mpmath numerical integration of A_α as in that
    // test's _compute_a_mp (30 digits), are 6.50070897186739e-4 and 1.08541805691740e-3.
    const orders = [1.5, 2.5];
    const exact = [6.50070897186739e-4, 1.0854180569174e-3];
    const upperBound = [6.70579741e-4, 1.0854871e-3];
    // Execute
    const rdp = sampledGaussianRdp(0.01, 2.5, orders).map((r) => 50 * r);
    // Assert
    rdp.forEach((r, i) => {
      expect(Math.abs(r / exact[i]! - 1)).toBeLessThan(1e-8);
      expect(r).toBeLessThanOrEqual(upperBound[i]!);
    });
  });

  // dp_accounting's test_compute_log_a_equals_mp parameters (q, z, α), compared as it does (rtol 1e-4, atol 1e-8) with
  // log A_α from mpmath: the exact binomial sum for integer α, numerical integration (mpmath.quad) otherwise.
  it.each([
    [1e-7, 0.1, 1.01, 4.003412327842532e-8],
    [1e-6, 0.1, 256, 3260463.2292971606],
    [1e-5, 0.1, 256.1, 3263606.5345878527],
    [1e-6, 1, 27, 8.769511304848498e-10],
    [1e-4, 1, 1.5, 6.442686970363956e-9],
    [1e-3, 1, 2, 1.7182803522145153e-6],
    [0.01, 10, 20, 0.00019129699912842963],
    [0.1, 100, 20.5, 0.00019991818458125194],
    [0.99, 0.1, 256, 3263997.427114021],
    [0.999, 100, 256.1, 3.260108037973113],
  ])('log A at q %d, z %d, order %d matches mpmath', (q, z, alpha, logA) => {
    const got = sampledGaussianRdp(q, z, [alpha])[0]! * (alpha - 1);
    expect(Math.abs(got - logA)).toBeLessThanOrEqual(1e-8 + 1e-4 * Math.abs(logA));
  });

  it('has the closed forms at the ends: 0 at q = 0, α/(2z²) at q = 1, ∞ without noise', () => {
    expect(sampledGaussianRdp(0, 1, [2, 3.5, 64])).toEqual([0, 0, 0]);
    expect(sampledGaussianRdp(0, 0, [2])).toEqual([0]);
    expect(sampledGaussianRdp(1, 2, [2, 3.5])).toEqual([2 / 8, 3.5 / 8]);
    expect(sampledGaussianRdp(0.1, 0, [2, 3.5])).toEqual([Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY]);
  });

  it('grows with the sampling rate and shrinks with the noise multiplier at every order', () => {
    const orders = [1.5, 2, 4.2, 16, 256];
    const low = sampledGaussianRdp(0.01, 1, orders);
    const moreSampling = sampledGaussianRdp(0.02, 1, orders);
    const moreNoise = sampledGaussianRdp(0.01, 1.1, orders);
    orders.forEach((_, i) => {
      expect(moreSampling[i]!).toBeGreaterThan(low[i]!);
      expect(moreNoise[i]!).toBeLessThan(low[i]!);
    });
  });

  it.each([
    [-0.1, 1, [2]],
    [1.5, 1, [2]],
    [Number.NaN, 1, [2]],
    [0.1, -1, [2]],
    [0.1, Number.POSITIVE_INFINITY, [2]],
    [0.1, 1, []],
    [0.1, 1, [1]],
    [0.1, 1, [Number.POSITIVE_INFINITY]],
  ])('refuses q %d, z %d, orders %j with a PrivacyParameterError', (q, z, orders) => {
    expect(() => sampledGaussianRdp(q, z, orders)).toThrow(PrivacyParameterError);
  });
});
