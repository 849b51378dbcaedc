import { describe, expect, it } from 'vitest';
import { addGaussianNoise } from './gaussian-noise.js';
import { cryptoRandomSource, seededRandomSource, uniforms } from './random-source.js';

describe('addGaussianNoise', () => {
  it('draws N(0, σ²): 10^6 samples of σ = 2 have mean and variance within 5 standard errors (privacy.md §3.7)', () => {
    // Prepare
    const n = 1_000_000;
    const values = new Float64Array(n);

    // Execute
    addGaussianNoise(values, 2, seededRandomSource(7));

    // Assert
    let sum = 0;
    let sq = 0;
    for (const v of values) {
      sum += v;
      sq += v * v;
    }
    const mean = sum / n;
    const variance = sq / n - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance / 4 - 1)).toBeLessThan(0.007);
    // Tails: P(|x| > 2σ) = 4.55 %, within 5 standard errors (0.0002).
    const beyond = values.filter((v) => Math.abs(v) > 4).length / n;
    expect(Math.abs(beyond - 0.0455)).toBeLessThan(0.001);
  });

  it('adds to what is there, leaves it alone at σ = 0, and handles an odd length', () => {
    // Prepare
    const values = Float64Array.of(1, 2, 3);

    // Execute
    addGaussianNoise(values, 0, cryptoRandomSource);
    const unchanged = Array.from(values);
    addGaussianNoise(values, 1e-9, cryptoRandomSource);

    // Assert
    expect(unchanged).toEqual([1, 2, 3]);
    expect(Array.from(values).map((v) => Math.round(v))).toEqual([1, 2, 3]);
    expect(values[2]).not.toBe(3);
    expect(() => addGaussianNoise(values, -1, cryptoRandomSource)).toThrow(/sigma/);
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
