import { describe, expect, it } from 'vitest';
import { clipToNorm, l2Norm } from './norm.js';

describe('l2Norm', () => {
  it('is the Euclidean norm, non-finite for non-finite input', () => {
    expect(l2Norm(new Float32Array([3, 4]))).toBe(5);
    expect(l2Norm(new Float32Array(0))).toBe(0);
    expect(l2Norm(new Float32Array([1, Number.NaN]))).toBeNaN();
    expect(l2Norm(new Float32Array([Number.POSITIVE_INFINITY]))).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('clipToNorm', () => {
  it('returns the same array when within the bound', () => {
    const delta = new Float32Array([3, 4]);
    expect(clipToNorm(delta, 5)).toBe(delta);
    expect(clipToNorm(delta, 10)).toBe(delta);
  });

  it('scales a longer delta down to the bound without mutating it', () => {
    // Prepare
    const delta = new Float32Array([3, 4]);

    // Execute
    const clipped = clipToNorm(delta, 1);

    // Assert: [3, 4] / 5
    expect(clipped).not.toBe(delta);
    expect(Array.from(delta)).toEqual([3, 4]);
    expect(clipped[0]).toBeCloseTo(0.6, 6);
    expect(clipped[1]).toBeCloseTo(0.8, 6);
    expect(l2Norm(clipped)).toBeLessThanOrEqual(1);
  });

  it('never leaves a clipped delta above the bound', () => {
    for (let n = 1; n < 200; n++) {
      const delta = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 1000);
      const bound = 0.1 + n / 7;
      expect(l2Norm(clipToNorm(delta, bound))).toBeLessThanOrEqual(bound);
    }
  });

  it('rejects non-finite deltas and bad bounds', () => {
    expect(() => clipToNorm(new Float32Array([Number.NaN]), 1)).toThrow(/NaN or Infinity/);
    expect(() => clipToNorm(new Float32Array([1]), 0)).toThrow(/maxNorm/);
    expect(() => clipToNorm(new Float32Array([1]), Number.NaN)).toThrow(/maxNorm/);
  });
});
