import { describe, expect, it } from 'vitest';
import { createRng } from '../rng.js';
import { fedAvg } from './fedavg.js';
import { WeightedSum, decodePartial, encodePartial } from './weighted-sum.js';

function randomUpdates(seed: number, participants: number, length: number) {
  const rng = createRng(seed);
  return Array.from({ length: participants }, () => ({
    delta: Float32Array.from({ length }, () => rng.normal()),
    numExamples: 1 + rng.int(500),
  }));
}

describe('WeightedSum', () => {
  it('streams to the same weighted mean as fedAvg on random inputs', () => {
    // Prepare
    const updates = randomUpdates(7, 25, 1000);
    const sum = new WeightedSum(1000);

    // Execute
    for (const u of updates) sum.add(u.delta, u.numExamples);
    const streamed = sum.mean();
    const reference = fedAvg(updates);

    // Assert
    expect(sum.count).toBe(25);
    expect(sum.totalWeight).toBe(updates.reduce((t, u) => t + u.numExamples, 0));
    let maxDiff = 0;
    for (let i = 0; i < 1000; i++) maxDiff = Math.max(maxDiff, Math.abs(streamed[i]! - reference[i]!));
    expect(maxDiff).toBeLessThan(1e-6);
    expect(streamed.some((v) => v !== 0)).toBe(true);
  });

  it('gives the same float32 mean whatever the arrival order', () => {
    // Prepare
    const updates = randomUpdates(11, 40, 500);
    const forward = new WeightedSum(500);
    const backward = new WeightedSum(500);

    // Execute
    for (const u of updates) forward.add(u.delta, u.numExamples);
    for (const u of [...updates].reverse()) backward.add(u.delta, u.numExamples);

    // Assert
    expect(Array.from(backward.mean())).toEqual(Array.from(forward.mean()));
  });

  it('does not mutate the delta it folds in', () => {
    const delta = new Float32Array([1, 2, 3]);
    const sum = new WeightedSum(3);
    sum.add(delta, 2);
    expect(Array.from(delta)).toEqual([1, 2, 3]);
    expect(Array.from(sum.mean())).toEqual([1, 2, 3]);
  });

  it('rejects a wrong length or weight and stays unchanged', () => {
    // Prepare
    const sum = new WeightedSum(2);
    sum.add(new Float32Array([1, 1]), 1);

    // Execute / Assert
    expect(() => sum.add(new Float32Array(3), 1)).toThrow(/delta has 3 parameters, expected 2/);
    for (const weight of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => sum.add(new Float32Array([9, 9]), weight)).toThrow(/weight must be positive and finite/);
    }
    expect(() => sum.add([1, 2] as unknown as Float32Array, 1)).toThrow(/Float32Array/);
    expect(sum.count).toBe(1);
    expect(sum.totalWeight).toBe(1);
    expect(Array.from(sum.mean())).toEqual([1, 1]);
  });

  it('rejects a bad length at construction', () => {
    expect(() => new WeightedSum(0)).toThrow(/positive integer/);
    expect(() => new WeightedSum(2.5)).toThrow(/positive integer/);
  });

  it('throws on mean() when empty or when a non-finite delta got in', () => {
    expect(() => new WeightedSum(2).mean()).toThrow(/no deltas/);
    const sum = new WeightedSum(2);
    sum.add(new Float32Array([1, Number.NaN]), 1);
    expect(() => sum.mean()).toThrow(/not finite/);
  });
});

describe('WeightedSum.addIfFinite', () => {
  it('folds exactly like add when every value is finite', () => {
    const a = new WeightedSum(3);
    const b = new WeightedSum(3);
    a.add(Float32Array.from([1, 2, 3]), 1);
    a.add(Float32Array.from([5, 6, 7]), 3);
    expect(b.addIfFinite(Float32Array.from([1, 2, 3]), 1)).toBe(true);
    expect(b.addIfFinite(Float32Array.from([5, 6, 7]), 3)).toBe(true);
    expect(b.result()).toEqual(a.result());
    expect(b.count).toBe(2);
    expect(b.totalWeight).toBe(4);
  });

  it('folds nothing when a value is NaN or infinite, leaving the sum bit-identical', () => {
    const s = new WeightedSum(3);
    s.add(Float32Array.from([0.1, -0.2, 0.3]), 2);
    const before = s.result();
    expect(s.addIfFinite(Float32Array.from([1, Number.NaN, 3]), 1)).toBe(false);
    expect(s.addIfFinite(Float32Array.from([1, 2, Number.POSITIVE_INFINITY]), 1)).toBe(false);
    expect(s.addIfFinite(Float32Array.from([Number.NEGATIVE_INFINITY, 2, 3]), 1)).toBe(false);
    expect(s.count).toBe(1);
    expect(s.totalWeight).toBe(2);
    expect(s.result()).toEqual(before);
    // -0 is finite.
    expect(s.addIfFinite(Float32Array.from([-0, 0, -0]), 2)).toBe(true);
  });
});

describe('WeightedSum partials (one per hub, combined by the coordinator)', () => {
  // Five updates with dyadic weights, spread over three hubs (two, two and one): the mean is exact in float32.
  const updates: [number[], number][] = [
    [[1, 2, 3], 1],
    [[3, 2, 1], 3],
    [[0, 0, 8], 2],
    [[-2, 4, 0], 6],
    [[4, -4, 4], 4],
  ];
  const hubs = [updates.slice(0, 2), updates.slice(2, 4), updates.slice(4)];
  const partialOf = (part: typeof updates) => {
    const sum = new WeightedSum(3);
    for (const [delta, weight] of part) sum.add(Float32Array.from(delta), weight);
    return sum.partial();
  };

  it('combined in any order through bytes, give exactly the mean of one sum over every update', () => {
    // Prepare
    const whole = new WeightedSum(3);
    for (const [delta, weight] of updates) whole.add(Float32Array.from(delta), weight);
    const wire = hubs.map((part) => decodePartial(encodePartial(partialOf(part)), 3));
    // Execute
    const coordinator = new WeightedSum(3);
    for (const partial of [wire[2]!, wire[0]!, wire[1]!]) coordinator.addPartial(partial);
    // Assert
    expect([...coordinator.mean()]).toEqual([0.875, 1, 2.375]);
    expect([...coordinator.mean()]).toEqual([...whole.mean()]);
    expect([coordinator.count, coordinator.totalWeight]).toEqual([5, 16]);
  });

  it('an empty partial (a hub whose tabs all failed) changes nothing, and malformed ones are refused', () => {
    const coordinator = new WeightedSum(3);
    coordinator.addPartial(new WeightedSum(3).partial());
    coordinator.addPartial(partialOf(hubs[0]!));
    expect([coordinator.count, coordinator.totalWeight]).toEqual([2, 4]);
    expect(() => coordinator.addPartial({ sum: new Float64Array(2), weight: 1, count: 1 })).toThrow(/3 float64 sums expected/);
    expect(() => coordinator.addPartial({ sum: new Float64Array(3), weight: 0, count: 2 })).toThrow(/do not describe a partial/);
    const bytes = encodePartial(partialOf(hubs[1]!));
    expect(() => decodePartial(bytes.subarray(1), 3)).toThrow(/is 40 bytes, got 39/);
    new DataView(bytes.buffer).setFloat64(16, Number.NaN, true);
    expect(() => decodePartial(bytes, 3)).toThrow(/non-finite/);
  });
});
