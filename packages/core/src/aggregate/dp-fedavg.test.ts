import { describe, expect, it } from 'vitest';
import { RoundCollector } from '../federation/round-collector.js';
import { seededRandomSource } from '../privacy/random-source.js';
import { PROTOCOL_VERSION, type PrivacyConfig } from '../protocol.js';
import { encodeFrame } from '../wire/index.js';
import { DpFedAvgStrategy, samplingRateFor } from './dp-fedavg.js';
import { FitBatch } from './fit-batch.js';
import { l2Norm } from './norm.js';

const privacy = (overrides: Partial<PrivacyConfig> = {}): PrivacyConfig => ({
  mode: 'central',
  clip: 1,
  noiseMultiplier: 1,
  samplingRate: 0.5,
  delta: 1e-5,
  ...overrides,
});
const strategy = (p: PrivacyConfig, random = seededRandomSource(1)) =>
  new DpFedAvgStrategy({ privacy: p, optimizer: { kind: 'sgd', lr: 1 }, random });
const ids = (n: number) => Array.from({ length: n }, (_, i) => `p${String(i).padStart(3, '0')}`);
const result = (participantId: string) => ({ participantId, numExamples: 7, metrics: {} });

describe('DpFedAvgStrategy: noise and denominator', () => {
  it('adds noise of std z·C / expected count: 2,000 aggregations of all-zero deltas, z 1, C 0.5, m 10 (privacy.md §3.7)', () => {
    // Prepare: q 0.5 over 20 participants, so the expected count is 10; three zero deltas arrive each round.
    const length = 50;
    const s = strategy(privacy({ clip: 0.5, noiseMultiplier: 1, samplingRate: 0.5 }), seededRandomSource(11));
    const fits = new FitBatch(s.createAccumulator(length));
    const global = new Float32Array(length);
    let sum = 0;
    let sq = 0;
    let n = 0;

    // Execute
    for (let round = 1; round <= 2000; round++) {
      s.configureFit(round, ids(20));
      fits.reset();
      for (const id of ['a', 'b', 'c']) fits.add(new Float32Array(length), result(id));
      for (const v of s.aggregateFit(round, global, fits)!) {
        sum += v;
        sq += v * v;
        n++;
      }
    }

    // Assert: 100,000 values; the std's standard error is 0.05/√(2n) ≈ 0.2 %, the mean's 0.05/√n ≈ 1.6e-4.
    const mean = sum / n;
    const std = Math.sqrt(sq / n - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(8e-4);
    expect(Math.abs(std / 0.05 - 1)).toBeLessThan(0.01);
  });

  it('sums unweighted and divides by the expected count, not by the number that arrived; no arrival is still a noisy round', () => {
    // Prepare: q 0.5 over 4 participants: expected count 2. Example counts (7) must not weight anything.
    const s = strategy(privacy({ clip: 10, noiseMultiplier: 1e-9 }));
    const fits = new FitBatch(s.createAccumulator(2));

    // Execute
    s.configureFit(1, ids(4));
    fits.add(Float32Array.of(1, 3), result('a'));
    const one = s.aggregateFit(1, new Float32Array(2), fits)!;
    s.configureFit(2, ids(4));
    fits.reset();
    const none = s.aggregateFit(2, Float32Array.of(1, 1), fits);

    // Assert
    expect(Array.from(one).map((v) => +v.toFixed(6))).toEqual([0.5, 1.5]);
    expect(none).not.toBeNull();
    expect(Array.from(none!).map((v) => +v.toFixed(6))).toEqual([1, 1]);
    expect(samplingRateFor(privacy({ samplingRate: undefined, expectedPerRound: 10 }), 40)).toBe(0.25);
    expect(samplingRateFor(privacy({ samplingRate: undefined, expectedPerRound: 10 }), 4)).toBe(1);
  });
});

describe('DpFedAvgStrategy: discrete noise on a grid', () => {
  it('releases a sum on a grid of 2^-24·C: sums that differ below half a step release the same values, bit for bit', () => {
    // Prepare: two sums 2.5e-8 apart, less than half the grid step at C = 1 (6e-8) and more than float32 keeps at
    // these sizes; the same secret randomness for both.
    const sum = Float64Array.of(0.25, -0.125, 1 / 3);
    const nudged = sum.map((v) => v - 2.5e-8);
    // Execute
    const a = strategy(privacy(), seededRandomSource(4)).noisyMean(sum, 1);
    const b = strategy(privacy(), seededRandomSource(4)).noisyMean(nudged, 1);
    // Assert: the low bits of the data do not reach the output; the noise does.
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(a)).not.toEqual(Array.from(sum).map((v) => Math.fround(v)));
  });
});

describe('DpFedAvgStrategy: clipping at the hub', () => {
  it('a delta of norm 10 with C = 1 contributes at most 1 through the round collector', () => {
    // Prepare
    const s = strategy(privacy({ clip: 1 }));
    const fits = new FitBatch(s.createAccumulator(4));
    const collector = new RoundCollector({
      runId: 'r1',
      round: 1,
      modelVersion: 0,
      trainers: ['a'],
      evaluators: [],
      fits,
      strategy: s,
      deadline: Infinity,
      hideCounts: true,
    });
    const frame = encodeFrame({
      kind: 'delta',
      protocolVersion: PROTOCOL_VERSION,
      runId: 'r1',
      round: 1,
      modelVersion: 0,
      dtype: 'float32',
      values: Float32Array.of(5, 5, 5, 5), // norm 10
    });

    // Execute
    const ack = collector.submitUpdate('a', { runId: 'r1', round: 1, modelVersion: 0, numExamples: 3, loss: 0.1, trainMs: 1 }, frame);

    // Assert: accepted (not rejected), with no count of who else answered; clipped to 1 (less float32's half-ulp margin).
    expect(ack).toEqual({ ok: true, data: { round: 1, received: 0 } });
    const norm = l2Norm(fits.aggregate());
    expect(norm).toBeLessThanOrEqual(1);
    expect(norm).toBeGreaterThan(1 - 1e-6);
  });
});

describe('DpFedAvgStrategy: Poisson sampling from secret randomness', () => {
  it('the injected source decides: all-zero bytes take everyone, all-one bytes nobody, a seeded one about q of them', () => {
    // Prepare
    const everyone = strategy(privacy(), (bytes) => bytes.fill(0));
    const nobody = strategy(privacy(), (bytes) => bytes.fill(255));
    const seeded = strategy(privacy({ samplingRate: 0.3 }), seededRandomSource(3));

    // Execute
    const all = everyone.configureFit(1, ids(10));
    const none = nobody.configureFit(1, ids(10));
    const some = seeded.configureFit(1, ids(1000));

    // Assert: Binomial(1000, 0.3) has std 14.5.
    expect(all).toEqual(ids(10));
    expect(none).toEqual([]);
    expect(Math.abs(some.length - 300)).toBeLessThan(75);
    expect(seeded.samplingRate(1)).toBe(0.3);
    expect(seeded.samplingRate(2)).toBeNull();
  });

  it('two runs with the same config (the same public seed) sample differently with the default CSPRNG', () => {
    // Prepare
    const a = new DpFedAvgStrategy({ privacy: privacy(), optimizer: { kind: 'sgd', lr: 1 } });
    const b = new DpFedAvgStrategy({ privacy: privacy(), optimizer: { kind: 'sgd', lr: 1 } });

    // Execute
    const first = a.configureFit(1, ids(200));
    const second = b.configureFit(1, ids(200));

    // Assert: equal with probability 2^-200.
    expect(first).not.toEqual(second);
  });
});
