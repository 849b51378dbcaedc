import { describe, expect, it } from 'vitest';
import { addDiscreteGaussianNoise, noiseGrid, sampleDiscreteGaussian, uniformStream } from './discrete-gaussian.js';
import { cryptoRandomSource, seededRandomSource, uniforms } from './random-source.js';

describe('sampleDiscreteGaussian', () => {
  it('draws P(x) ∝ exp(−x²/(2σ²)) at σ = 1.5: χ² on −6..6 and the tails passes at the 0.1 % level (privacy.md §3.7)', () => {
    // Prepare: the discrete Gaussian's probabilities, normalised over a range its mass outside is below 1e-30.
    const sigma = 1.5;
    const n = 200_000;
    const weight = (x: number) => Math.exp(-(x * x) / (2 * sigma * sigma));
    let total = 0;
    for (let x = -40; x <= 40; x++) total += weight(x);
    const next = uniformStream(seededRandomSource(11));
    // Execute
    const counts = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const x = sampleDiscreteGaussian(sigma, next);
      const bin = Math.max(-7, Math.min(7, x)); // ±7: the two tails beyond ±6
      counts.set(bin, (counts.get(bin) ?? 0) + 1);
    }
    // Assert: 15 bins, 14 degrees of freedom; χ²(14) exceeds 36.12 with probability 0.001.
    let chi2 = 0;
    for (let bin = -7; bin <= 7; bin++) {
      let p = 0;
      if (Math.abs(bin) < 7) p = weight(bin) / total;
      else for (let x = 7; x <= 40; x++) p += weight(x) / total;
      const expected = n * p;
      chi2 += ((counts.get(bin) ?? 0) - expected) ** 2 / expected;
    }
    expect(chi2).toBeLessThan(36.12);
  });

  it('keeps mean 0 and variance σ² at the σ a DP round uses (millions of grid steps), within 5 standard errors', () => {
    const sigma = 2 ** 24 * 1.3;
    const n = 100_000;
    const next = uniformStream(seededRandomSource(3));
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const x = sampleDiscreteGaussian(sigma, next);
      expect(Number.isInteger(x)).toBe(true);
      sum += x;
      sq += x * x;
    }
    const mean = sum / n;
    expect(Math.abs(mean) / sigma).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(sq / n / (sigma * sigma) - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });

  it('is 0 at σ = 0 and refuses a negative or infinite σ', () => {
    const next = uniformStream(cryptoRandomSource);
    expect(sampleDiscreteGaussian(0, next)).toBe(0);
    expect(() => sampleDiscreteGaussian(-1, next)).toThrow(/sigma/);
    expect(() => sampleDiscreteGaussian(Infinity, next)).toThrow(/sigma/);
  });
});

describe('addDiscreteGaussianNoise', () => {
  it('releases integers times the grid: the rounded value plus noise of standard deviation σ', () => {
    // Prepare: values off the grid, the grid of a clip of 0.5.
    const grid = noiseGrid(0.5);
    const n = 50_000;
    const values = Float64Array.from({ length: n }, (_, i) => 0.1 + i * 1e-9);
    // Execute
    addDiscreteGaussianNoise(values, 0.05, grid, seededRandomSource(5));
    // Assert
    let sum = 0;
    let sq = 0;
    values.forEach((v, i) => {
      expect(Number.isInteger(v / grid)).toBe(true);
      const noise = v - (0.1 + i * 1e-9);
      sum += noise;
      sq += noise * noise;
    });
    expect(Math.abs(sum / n)).toBeLessThan((5 * 0.05) / Math.sqrt(n));
    expect(Math.abs(Math.sqrt(sq / n) / 0.05 - 1)).toBeLessThan(0.02);
  });

  it('only rounds at σ = 0, and refuses a bad grid', () => {
    const grid = noiseGrid(1);
    const values = Float64Array.of(1 / 3, -2 / 3);
    addDiscreteGaussianNoise(values, 0, grid, cryptoRandomSource);
    expect(Array.from(values)).toEqual([Math.round(1 / 3 / grid) * grid, Math.round(-2 / 3 / grid) * grid]);
    expect(() => addDiscreteGaussianNoise(values, 1, 0, cryptoRandomSource)).toThrow(/grid/);
  });
});

describe('uniforms', () => {
  it('are in [0, 1) at both extremes of the random bytes, and the CSPRNG fills more than 64 KiB', () => {
    // Prepare, Execute
    const low = uniforms((bytes) => bytes.fill(0), 4);
    const high = uniforms((bytes) => bytes.fill(255), 4);
    const many = uniforms(cryptoRandomSource, 20_000); // 160 KB of random bytes: three getRandomValues calls

    // Assert
    expect(Array.from(low)).toEqual([0, 0, 0, 0]);
    expect(high.every((u) => u < 1 && u > 1 - 1e-15)).toBe(true);
    expect(many.every((u) => u >= 0 && u < 1)).toBe(true);
    const mean = many.reduce((a, b) => a + b, 0) / many.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(many[19_999]).not.toBe(0);
  });
});
