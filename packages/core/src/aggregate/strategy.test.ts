import { describe, expect, it } from 'vitest';
import { fedAvg } from './fedavg.js';
import { FitBatch, type FitResult } from './fit-batch.js';
import { fitCount } from './select.js';
import { DEFAULT_FEDADAM, DEFAULT_SGD } from './server-optimizer.js';
import { FedAvgStrategy, TrimmedMeanStrategy, type EvaluateResult, type Strategy } from './strategy.js';
import { WeightedSum } from './weighted-sum.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `p${String(i).padStart(3, '0')}`);
const fit = (participantId: string, numExamples: number): FitResult => ({ participantId, numExamples, metrics: {} });
const batch = (s: Strategy, length: number) => new FitBatch(s.createAccumulator(length));

describe('FedAvgStrategy.configureFit', () => {
  it('is deterministic for a seed and independent of the order ids arrive in', () => {
    // Prepare
    const available = ids(50);
    const a = new FedAvgStrategy({ seed: 42, perRound: 10, optimizer: DEFAULT_SGD });
    const b = new FedAvgStrategy({ seed: 42, perRound: 10, optimizer: DEFAULT_SGD });

    // Execute
    const first = a.configureFit(3, available);
    const second = b.configureFit(3, [...available].reverse());

    // Assert
    expect(second).toEqual(first);
    expect(first).toHaveLength(10);
    expect(new Set(first).size).toBe(10);
    for (const id of first) expect(available).toContain(id);
  });

  it('differs across rounds and seeds', () => {
    const available = ids(50);
    const s = new FedAvgStrategy({ seed: 42, perRound: 10, optimizer: DEFAULT_SGD });
    const other = new FedAvgStrategy({ seed: 43, perRound: 10, optimizer: DEFAULT_SGD });
    expect(s.configureFit(1, available)).not.toEqual(s.configureFit(2, available));
    expect(other.configureFit(1, available)).not.toEqual(s.configureFit(1, available));
  });

  it('respects perRound over fraction, fraction rounded up, minFit, and availability', () => {
    const select = (opts: { perRound?: number; fraction?: number; minFit?: number }, n: number) =>
      new FedAvgStrategy({ seed: 1, optimizer: DEFAULT_SGD, ...opts }).configureFit(0, ids(n)).length;

    expect(select({ perRound: 4, fraction: 0.9 }, 10)).toBe(4);
    expect(select({ fraction: 0.3 }, 10)).toBe(3);
    expect(select({ fraction: 0.25 }, 10)).toBe(3);
    expect(select({}, 10)).toBe(10);
    expect(select({ perRound: 20 }, 10)).toBe(10);
    expect(select({ perRound: 2, minFit: 5 }, 10)).toBe(5);
    expect(select({ fraction: 0.1, minFit: 5 }, 3)).toBe(3);
    expect(select({ perRound: 2 }, 0)).toBe(0);
    // 0.07 · 100 = 7.000000000000001 in float64: must still be 7
    expect(fitCount(100, { fraction: 0.07 })).toBe(7);
    expect(fitCount(100, { fraction: 0.29 })).toBe(29);
  });

  it('rejects bad options, rounds and duplicate ids', () => {
    expect(() => new FedAvgStrategy({ seed: 1, perRound: 0, optimizer: DEFAULT_SGD })).toThrow(/perRound/);
    expect(() => new FedAvgStrategy({ seed: 1, fraction: 1.5, optimizer: DEFAULT_SGD })).toThrow(/fraction/);
    expect(() => new FedAvgStrategy({ seed: 1, minFit: -1, optimizer: DEFAULT_SGD })).toThrow(/minFit/);
    expect(() => new FedAvgStrategy({ seed: 0.5, optimizer: DEFAULT_SGD })).toThrow(/seed/);
    expect(() => new FedAvgStrategy({ seed: 1, clipNorm: 0, optimizer: DEFAULT_SGD })).toThrow(/clipNorm/);
    const s = new FedAvgStrategy({ seed: 1, optimizer: DEFAULT_SGD });
    expect(() => s.configureFit(-1, ids(3))).toThrow(/round/);
    expect(() => s.configureFit(0, ['a', 'b', 'a'])).toThrow(/'a' is listed twice/);
  });
});

describe('FedAvgStrategy.aggregateFit', () => {
  it('returns null when nothing valid arrived', () => {
    // Prepare: the round engine calls it through the interface, with the round's failures
    const s: Strategy = new FedAvgStrategy({ seed: 1, optimizer: DEFAULT_FEDADAM });

    // Execute
    const next = s.aggregateFit(1, new Float32Array([1, 2]), batch(s, 2), [{ participantId: 'p1', reason: 'timeout' }]);

    // Assert: no optimizer step was taken either
    expect(next).toBeNull();
    expect(s.getState().optimizer.step).toBe(0);
  });

  it('adds the example-weighted mean delta to the global weights (sgd, lr 1)', () => {
    // Prepare
    const s = new FedAvgStrategy({ seed: 1, optimizer: DEFAULT_SGD });
    const fits = batch(s, 2);
    fits.add(new Float32Array([1, 2]), fit('a', 1));
    fits.add(new Float32Array([5, 6]), fit('b', 3));
    const global = new Float32Array([10, 20]);

    // Execute
    const next = s.aggregateFit(1, global, fits);

    // Assert: [10, 20] + [4, 5]
    expect(next && Array.from(next)).toEqual([14, 25]);
    expect(Array.from(global)).toEqual([10, 20]);
    expect(s.createAccumulator(2)).toBeInstanceOf(WeightedSum);
  });

  it('rejects updates of another model size', () => {
    const s = new FedAvgStrategy({ seed: 1, optimizer: DEFAULT_SGD });
    const fits = batch(s, 2);
    fits.add(new Float32Array([1, 1]), fit('a', 1));
    expect(() => s.aggregateFit(1, new Float32Array(3), fits)).toThrow(/updates have 2 parameters, global weights 3/);
  });

  it('folds a reset batch as if it were new: the next round reuses its buffers', () => {
    // Prepare: one round folded, then reset
    const s = new FedAvgStrategy({ seed: 1, optimizer: DEFAULT_SGD });
    const fits = batch(s, 2);
    fits.add(new Float32Array([100, 100]), fit('old', 7));
    fits.reset();

    // Execute
    fits.add(new Float32Array([1, 2]), fit('a', 1));
    fits.add(new Float32Array([5, 6]), fit('b', 3));

    // Assert
    expect(fits.results.map((r) => r.participantId)).toEqual(['a', 'b']);
    expect(Array.from(s.aggregateFit(2, new Float32Array([0, 0]), fits)!)).toEqual([4, 5]);
  });

  it('records nothing for a delta that is not finite', () => {
    const s = new FedAvgStrategy({ seed: 1, optimizer: DEFAULT_SGD });
    const fits = batch(s, 2);
    expect(fits.addIfFinite(new Float32Array([1, Number.NaN]), fit('a', 1))).toBe(false);
    expect(fits.count).toBe(0);
    expect(fits.addIfFinite(new Float32Array([1, 2]), fit('b', 1))).toBe(true);
    expect(fits.results).toEqual([fit('b', 1)]);
  });

  it('persists and restores optimizer state through getState/setState', () => {
    // Prepare: one round on the original, then a restored copy
    const options = { seed: 5, optimizer: DEFAULT_FEDADAM };
    const original = new FedAvgStrategy(options);
    const round = (s: FedAvgStrategy, global: Float32Array, delta: number[]) => {
      const fits = batch(s, 2);
      fits.add(new Float32Array(delta), fit('a', 2));
      return s.aggregateFit(1, global, fits)!;
    };
    const w1 = round(original, new Float32Array([0, 0]), [0.5, -0.25]);
    const restored = new FedAvgStrategy(options);
    restored.setState(original.getState());

    // Execute
    const a = round(original, w1, [0.1, 0.3]);
    const b = round(restored, w1, [0.1, 0.3]);

    // Assert
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(restored.getState().optimizer.step).toBe(2);
  });

  it("rejects another strategy's state", () => {
    const fedavg = new FedAvgStrategy({ seed: 1, optimizer: DEFAULT_SGD });
    const trimmed = new TrimmedMeanStrategy({ seed: 1, optimizer: DEFAULT_SGD, trim: 0.1 });
    expect(() => fedavg.setState(trimmed.getState())).toThrow(/state is for strategy 'trimmed-mean'/);
    const adam = new FedAvgStrategy({ seed: 1, optimizer: DEFAULT_FEDADAM });
    expect(() => adam.setState(fedavg.getState())).toThrow(/state is for 'sgd'/);
  });

  it('exposes clipNorm for the round collector', () => {
    expect(new FedAvgStrategy({ seed: 1, clipNorm: 2.5, optimizer: DEFAULT_SGD }).clipNorm).toBe(2.5);
    expect(new FedAvgStrategy({ seed: 1, optimizer: DEFAULT_SGD }).clipNorm).toBeUndefined();
  });
});

describe('FedAvgStrategy.aggregateEvaluate', () => {
  it('takes example-weighted means, each metric over the results that have it', () => {
    // Prepare
    const s = new FedAvgStrategy({ seed: 1, optimizer: DEFAULT_SGD });
    const results: EvaluateResult[] = [
      { participantId: 'a', numExamples: 1, metrics: { accuracy: 0.5, loss: 2 } },
      { participantId: 'b', numExamples: 3, metrics: { accuracy: 0.9, loss: 1, adaptedAccuracy: 0.8 } },
      { participantId: 'c', numExamples: 0, metrics: { accuracy: 0, onlyEmpty: 1 } },
    ];

    // Execute
    const metrics = s.aggregateEvaluate(1, results);

    // Assert: accuracy (0.5 + 2.7) / 4; loss (2 + 3) / 4; adaptedAccuracy only from b; onlyEmpty has no weight
    expect(metrics.accuracy).toBeCloseTo(0.8, 12);
    expect(metrics.loss).toBeCloseTo(1.25, 12);
    expect(metrics.adaptedAccuracy).toBeCloseTo(0.8, 12);
    expect(Object.keys(metrics).sort()).toEqual(['accuracy', 'adaptedAccuracy', 'loss']);
  });

  it('is empty without results and rejects bad example counts', () => {
    const s = new FedAvgStrategy({ seed: 1, optimizer: DEFAULT_SGD });
    expect(s.aggregateEvaluate(1, [])).toEqual({});
    expect(() => s.aggregateEvaluate(1, [{ participantId: 'a', numExamples: -1, metrics: {} }])).toThrow(/numExamples -1/);
  });
});

describe('TrimmedMeanStrategy', () => {
  it('drops the extremes per coordinate, ignoring example counts', () => {
    // Prepare: 5 deltas, trim 0.2 drops one largest and one smallest per coordinate
    const s = new TrimmedMeanStrategy({ seed: 1, optimizer: DEFAULT_SGD, trim: 0.2 });
    const fits = batch(s, 2);
    const deltas = [
      [1, 10],
      [2, 20],
      [3, 30],
      [1000, -1000],
      [4, Number.NaN],
    ];
    deltas.forEach((d, i) => fits.add(new Float32Array(d), fit(`p${i}`, i === 3 ? 1e6 : 1)));

    // Execute
    const next = s.aggregateFit(1, new Float32Array([0, 0]), fits);

    // Assert: coordinate 0 keeps [2, 3, 4] -> 3; coordinate 1 sorts to [-1000, 10, 20, 30, NaN] and keeps [10, 20, 30] -> 20
    expect(next && Array.from(next)).toEqual([3, 20]);
    expect(s.name).toBe('trimmed-mean');
  });

  it('with trim 0 is the unweighted mean, and rejects trim >= 0.5', () => {
    const acc = new TrimmedMeanStrategy({ seed: 1, optimizer: DEFAULT_SGD, trim: 0 }).createAccumulator(2);
    acc.add(new Float32Array([1, 2]), 1);
    acc.add(new Float32Array([5, 6]), 3);
    expect(Array.from(acc.result())).toEqual([3, 4]);
    expect(
      Array.from(
        fedAvg([
          { delta: new Float32Array([1, 2]), numExamples: 1 },
          { delta: new Float32Array([5, 6]), numExamples: 3 },
        ]),
      ),
    ).toEqual([4, 5]);
    expect(() => new TrimmedMeanStrategy({ seed: 1, optimizer: DEFAULT_SGD, trim: 0.5 })).toThrow(/trim/);
  });

  it("with trim 'median' takes the middle value per coordinate (the two middle ones averaged for an even count)", () => {
    const s = new TrimmedMeanStrategy({ seed: 1, optimizer: DEFAULT_SGD, trim: 'median' });
    const odd = s.createAccumulator(2);
    for (const d of [
      [1, -5],
      [2, 7],
      [1000, 3],
    ])
      odd.add(new Float32Array(d), 1);
    expect(Array.from(odd.result())).toEqual([2, 3]);
    const even = s.createAccumulator(1);
    for (const d of [[1], [2], [4], [1000]]) even.add(new Float32Array(d), 1);
    expect(Array.from(even.result())).toEqual([3]);
    expect(s.name).toBe('median');
  });

  it('keeps a copy of each delta', () => {
    const acc = new TrimmedMeanStrategy({ seed: 1, optimizer: DEFAULT_SGD, trim: 0 }).createAccumulator(1);
    const buffer = new Float32Array([1]);
    acc.add(buffer, 1);
    buffer[0] = 99;
    expect(Array.from(acc.result())).toEqual([1]);
  });

  it('forgets the previous round on reset, reusing its copies', () => {
    const acc = new TrimmedMeanStrategy({ seed: 1, optimizer: DEFAULT_SGD, trim: 'median' }).createAccumulator(1);
    for (const d of [1000, 1000, 1000]) acc.add(new Float32Array([d]), 1);
    acc.reset();
    for (const d of [1, 2, 9]) acc.add(new Float32Array([d]), 1);
    expect(acc.count).toBe(3);
    expect(Array.from(acc.result())).toEqual([2]);
  });
});

describe('FedAvgStrategy.configureEvaluate', () => {
  it('asks the held-out participants every `every` rounds and in the last round, nobody otherwise', () => {
    const s = new FedAvgStrategy({ seed: 1, optimizer: DEFAULT_SGD, evaluation: { every: 3, lastRound: 7 } });
    const asked = [1, 2, 3, 4, 5, 6, 7].map((round) => s.configureEvaluate(round, ['h1', 'h2']));
    expect(asked).toEqual([null, null, ['h1', 'h2'], null, null, ['h1', 'h2'], ['h1', 'h2']]);
    expect(s.configureEvaluate(3, [])).toEqual([]);
  });

  it('evaluates every round by default and refuses a schedule that cannot work', () => {
    expect(new FedAvgStrategy({ seed: 1, optimizer: DEFAULT_SGD }).configureEvaluate(5, ['h'])).toEqual(['h']);
    expect(() => new FedAvgStrategy({ seed: 1, optimizer: DEFAULT_SGD, evaluation: { every: 0, lastRound: 3 } })).toThrow(/evaluation/);
  });
});
