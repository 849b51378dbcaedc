import { describe, expect, it } from 'vitest';
import { fedAvg } from './fedavg.js';

describe('fedAvg', () => {
  it('weights deltas by example count', () => {
    // Prepare: (1·[1,2] + 3·[5,6]) / 4 = [16/4, 20/4]
    const updates = [
      { delta: new Float32Array([1, 2]), numExamples: 1 },
      { delta: new Float32Array([5, 6]), numExamples: 3 },
    ];

    // Execute
    const mean = fedAvg(updates);

    // Assert
    expect(Array.from(mean)).toEqual([4, 5]);
    expect(mean).toBeInstanceOf(Float32Array);
    expect(Array.from(updates[0]!.delta)).toEqual([1, 2]);
  });

  it('returns a single update unchanged', () => {
    expect(Array.from(fedAvg([{ delta: new Float32Array([0.5, -2]), numExamples: 7 }]))).toEqual([0.5, -2]);
  });

  it('rejects no updates, mismatched lengths and bad example counts', () => {
    expect(() => fedAvg([])).toThrow(/at least one update/);
    expect(() =>
      fedAvg([
        { delta: new Float32Array(2), numExamples: 1 },
        { delta: new Float32Array(3), numExamples: 1 },
      ]),
    ).toThrow(/update 1 has 3 parameters, expected 2/);
    expect(() => fedAvg([{ delta: new Float32Array(2), numExamples: 0 }])).toThrow(/numExamples 0/);
    expect(() => fedAvg([{ delta: new Float32Array(2), numExamples: Number.NaN }])).toThrow(/numExamples NaN/);
  });
});
