import { describe, expect, it } from 'vitest';
import { FedAvgStrategy, FitBatch } from '../aggregate/index.js';
import { PROTOCOL_VERSION, type AckErrorCode, type UpdateMeta } from '../protocol.js';
import { RoundCollector, type RoundCollectorOptions } from './round-collector.js';
import { encodeFrame } from '../wire/index.js';
import { ManualClock } from './manual-clock.js';

/** expect.stringMatching, typed: vitest types its matchers as any. */
const matching = (pattern: RegExp): unknown => expect.stringMatching(pattern);
const strategy = (clipNorm?: number) =>
  new FedAvgStrategy({ seed: 1, optimizer: { kind: 'sgd', lr: 1 }, ...(clipNorm !== undefined ? { clipNorm } : {}) });
const evaluation = { metric: 'accuracy' as const, before: 0.5, after: 0.75, adaptSteps: 5, testExamples: 10 };

function collector(overrides: Partial<RoundCollectorOptions> = {}, clock = new ManualClock()) {
  const s = overrides.strategy ?? strategy();
  return new RoundCollector({
    runId: 'r1',
    round: 2,
    modelVersion: 1,
    trainers: ['a', 'b'],
    evaluators: ['h'],
    fits: new FitBatch(s.createAccumulator(3)),
    strategy: s,
    deadline: 1000,
    clock,
    ...overrides,
  });
}
function meta(overrides: Partial<UpdateMeta> = {}): UpdateMeta {
  return { runId: 'r1', round: 2, modelVersion: 1, numExamples: 1, loss: 0.3, trainMs: 5, evaluation, ...overrides };
}
function frame(values: number[], overrides: { round?: number; runId?: string; allowNonFinite?: boolean } = {}) {
  return encodeFrame({
    kind: 'delta',
    protocolVersion: PROTOCOL_VERSION,
    runId: overrides.runId ?? 'r1',
    round: overrides.round ?? 2,
    modelVersion: 1,
    dtype: 'float32',
    values: Float32Array.from(values),
    allowNonFinite: overrides.allowNonFinite ?? false,
  });
}

describe('RoundCollector', () => {
  it('folds valid updates into the example-weighted mean and reports metrics', () => {
    const c = collector();
    expect(c.submitUpdate('a', meta({ numExamples: 1 }), frame([1, 2, 3]))).toEqual({ ok: true, data: { round: 2, received: 1 } });
    expect(
      c.submitUpdate('b', meta({ numExamples: 3, evaluation: { ...evaluation, before: 0.1, testExamples: 30 } }), frame([5, 6, 7])),
    ).toMatchObject({ ok: true });
    expect(c.complete).toBe(false);
    expect(c.submitEvaluation('h', { runId: 'r1', round: 2, modelVersion: 1, evaluation: { ...evaluation, after: 0.9 } })).toMatchObject({
      ok: true,
    });
    expect(c.complete).toBe(true);
    expect(Array.from(c.fits.aggregate())).toEqual([4, 5, 6]);
    expect(c.metrics()).toEqual({ loss: 0.3, global: 0.2, personalized: 0.75, heldOutGlobal: 0.5, heldOutPersonalized: 0.9 });
  });

  const bad: [string, (c: RoundCollector) => unknown, RegExp, AckErrorCode][] = [
    [
      'NaN in the delta',
      (c) => c.submitUpdate('a', meta(), frame([1, Number.NaN, 3], { allowNonFinite: true })),
      /invalid update frame: .*NaN/,
      'invalid-frame',
    ],
    [
      'Infinity in the delta',
      (c) => c.submitUpdate('a', meta(), frame([Number.POSITIVE_INFINITY, 0, 0], { allowNonFinite: true })),
      /invalid update frame: .*Infinity/,
      'invalid-frame',
    ],
    ['wrong length', (c) => c.submitUpdate('a', meta(), frame([1, 2])), /invalid update frame: .*2.*3|3.*2/, 'invalid-frame'],
    [
      'truncated frame',
      (c) => c.submitUpdate('a', meta(), frame([1, 2, 3]).subarray(0, 30)),
      /invalid update frame: .*truncated/,
      'invalid-frame',
    ],
    ['stale round', (c) => c.submitUpdate('a', meta({ round: 1 }), frame([1, 2, 3], { round: 1 })), /stale: this is for round 1/, 'stale'],
    [
      'another run',
      (c) => c.submitUpdate('a', meta({ runId: 'old' }), frame([1, 2, 3], { runId: 'old' })),
      /stale: this is for run old/,
      'stale',
    ],
    [
      'frame for another round than its metadata',
      (c) => c.submitUpdate('a', meta(), frame([1, 2, 3], { round: 1 })),
      /invalid update frame: .*round/,
      'invalid-frame',
    ],
    ['not selected', (c) => c.submitUpdate('zed', meta(), frame([1, 2, 3])), /not selected/, 'not-selected'],
    [
      'malformed metadata',
      (c) => c.submitUpdate('a', { runId: 'r1', round: 'two' }, frame([1, 2, 3])),
      /malformed update: round: /,
      'invalid',
    ],
    ['JSON numbers instead of a binary frame', (c) => c.submitUpdate('a', meta(), [1, 2, 3]), /must be binary/, 'invalid-frame'],
    [
      'inflated example count',
      (c) => c.submitUpdate('a', meta({ numExamples: 20_000 }), frame([1, 2, 3])),
      /claims 20000 examples/,
      'too-many-examples',
    ],
    [
      'a norm above the bound',
      (c) => c.submitUpdate('a', meta(), frame([30, 40, 0])),
      /norm 50.00 exceeds this run's bound of 10/,
      'invalid-frame',
    ],
    [
      'evaluation from a trainer',
      (c) => c.submitEvaluation('a', { runId: 'r1', round: 2, modelVersion: 1, evaluation }),
      /not asked to evaluate/,
      'not-selected',
    ],
    [
      'evaluation in another metric',
      (c) => c.submitEvaluation('h', { runId: 'r1', round: 2, modelVersion: 1, evaluation: { ...evaluation, metric: 'mse' } }),
      /reports mse/,
      'invalid',
    ],
  ];
  for (const [name, submit, message, code] of bad) {
    it(`rejects ${name} with a reason and the code ${code}, and changes nothing`, () => {
      const c = collector({ maxUpdateNorm: 10, maxExamples: 10_000, metric: 'accuracy' });
      const ack = submit(c) as { ok: boolean; error?: string; code?: AckErrorCode };
      expect(ack.ok).toBe(false);
      expect(ack.error).toMatch(message);
      expect(ack.code).toBe(code);
      expect(c.fits.count).toBe(0);
      expect(c.fits.results).toHaveLength(0);
      // The participant can still send a valid update afterwards.
      expect(c.submitUpdate('a', meta(), frame([1, 1, 1]))).toMatchObject({ ok: true });
    });
  }

  it('rejects NaN and Infinity on the one-pass path (no norm bound) without changing the sum', () => {
    const c = collector();
    c.submitUpdate('a', meta({ numExamples: 1 }), frame([1, 2, 3]));
    const before = c.fits.aggregate();
    expect(c.submitUpdate('b', meta(), frame([1, Number.NaN, 3], { allowNonFinite: true }))).toEqual({
      ok: false,
      code: 'invalid-frame',
      error: matching(/invalid update frame: .*values\[1\] is NaN/),
    });
    expect(c.submitUpdate('b', meta(), frame([Number.NEGATIVE_INFINITY, 0, 0], { allowNonFinite: true }))).toEqual({
      ok: false,
      code: 'invalid-frame',
      error: matching(/-?Infinity/),
    });
    expect(c.fits.count).toBe(1);
    expect(c.fits.aggregate()).toEqual(before);
    expect(c.submitUpdate('b', meta({ numExamples: 3 }), frame([5, 6, 7]))).toMatchObject({ ok: true });
    expect(Array.from(c.fits.aggregate())).toEqual([4, 5, 6]);
  });

  it('rejects duplicates, late updates and anything after close', async () => {
    const clock = new ManualClock();
    const c = collector({}, clock);
    c.submitUpdate('a', meta(), frame([1, 2, 3]));
    expect(c.submitUpdate('a', meta(), frame([9, 9, 9]))).toMatchObject({
      ok: false,
      code: 'duplicate',
      error: matching(/duplicate update/),
    });
    await clock.advance(1001);
    expect(c.submitUpdate('b', meta(), frame([1, 2, 3]))).toMatchObject({ ok: false, code: 'late', error: matching(/late update/) });
    expect(c.close('the deadline passed')).toEqual(['b', 'h']);
    expect(c.submitUpdate('b', meta(), frame([1, 2, 3]))).toMatchObject({
      ok: false,
      code: 'late',
      error: 'round 2 of run r1 is closed (the deadline passed)',
    });
    expect(Array.from(c.fits.aggregate())).toEqual([1, 2, 3]);
    expect(c.failures.map((f) => f.participantId)).toEqual(['b']);
  });

  it("clips each delta to the strategy's clipNorm before folding it, and leaves shorter ones as they are", () => {
    // Prepare: clip at norm 5; a's delta has norm 10 (6, 8, 0), b's norm 3 (0, 0, 3)
    const c = collector({ strategy: strategy(5), evaluators: [] });

    // Execute
    c.submitUpdate('a', meta({ numExamples: 1 }), frame([6, 8, 0]));
    c.submitUpdate('b', meta({ numExamples: 1 }), frame([0, 0, 3]));

    // Assert: a is scaled to (3, 4, 0) (up to float32's half-ulp shrink), so the mean is (1.5, 2, 1.5)
    const mean = Array.from(c.fits.aggregate());
    expect(mean[0]).toBeCloseTo(1.5, 5);
    expect(mean[1]).toBeCloseTo(2, 5);
    expect(mean[2]).toBe(1.5);
  });

  it('rejects above maxUpdateNorm before it clips', () => {
    const c = collector({ strategy: strategy(5), maxUpdateNorm: 8 });
    expect(c.submitUpdate('a', meta(), frame([6, 8, 0]))).toMatchObject({
      ok: false,
      code: 'invalid-frame',
      error: matching(/norm 10.00 exceeds this run's bound of 8/),
    });
    expect(c.submitUpdate('a', meta(), frame([0, 6, 0]))).toMatchObject({ ok: true });
    expect(Array.from(c.fits.aggregate())[1]).toBeCloseTo(5, 5);
  });

  it('settles once: complete when everyone answered', async () => {
    const c = collector();
    c.submitUpdate('a', meta(), frame([1, 2, 3]));
    c.fail('b', 'disconnected');
    c.submitEvaluation('h', { runId: 'r1', round: 2, modelVersion: 1, evaluation });
    await expect(c.settled).resolves.toBe('complete');
    expect(c.close('done')).toEqual([]);
  });

  it('settles at the deadline, and on close before it', async () => {
    const clock = new ManualClock();
    const late = collector({}, clock);
    await clock.advance(999);
    const closed = collector({ deadline: 2000 }, clock);
    const outcomes: string[] = [];
    void late.settled.then((o) => outcomes.push(`late ${o}`));
    void closed.settled.then((o) => outcomes.push(`closed ${o}`));
    await clock.advance(1);
    expect(outcomes).toEqual(['late deadline']);
    expect(closed.close('stopped by an admin')).toEqual(['a', 'b', 'h']);
    await clock.advance(5000);
    expect(outcomes).toEqual(['late deadline', 'closed closed']);
  });

  it("empties the run's batch when it opens, so the next round starts from nothing", () => {
    const s = strategy();
    const fits = new FitBatch(s.createAccumulator(3));
    const first = collector({ strategy: s, fits });
    first.submitUpdate('a', meta(), frame([9, 9, 9]));
    first.close('the round is over');
    const second = collector({ strategy: s, fits, round: 3, modelVersion: 2 });
    expect(second.fits.count).toBe(0);
    second.submitUpdate(
      'a',
      meta({ round: 3, modelVersion: 2 }),
      encodeFrame({
        kind: 'delta',
        protocolVersion: PROTOCOL_VERSION,
        runId: 'r1',
        round: 3,
        modelVersion: 2,
        dtype: 'float32',
        values: Float32Array.from([1, 2, 3]),
      }),
    );
    expect(Array.from(fits.aggregate())).toEqual([1, 2, 3]);
  });

  it('counts a participant that left as answered, so the round need not wait for it', () => {
    const c = collector({ evaluators: [] });
    c.submitUpdate('a', meta(), frame([1, 2, 3]));
    expect(c.pending).toEqual(['b']);
    c.fail('b', 'disconnected');
    expect(c.complete).toBe(true);
    expect(c.failures).toEqual([{ participantId: 'b', reason: 'disconnected' }]);
  });
});

describe('RoundCollector: evaluations cannot set or wipe the record', () => {
  const report = (e: Partial<typeof evaluation> | Record<string, unknown>) => ({
    runId: 'r1',
    round: 2,
    modelVersion: 1,
    evaluation: { ...evaluation, ...e },
  });

  it('refuses impossible figures with the reason, and they change nothing', () => {
    const c = collector({ metric: 'accuracy', maxExamples: 1000 });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ before: 250 }, /before: an accuracy is in \[0, 1\], got 250/],
      [{ after: -250 }, /after: .*>=0/],
      [{ testExamples: 2 ** 53 - 1 }, /testExamples/],
      [{ testExamples: 5000 }, /claims 5000 test examples; at most 1000/],
      [{ metric: 'mse', before: 0.2, after: 0.1 }, /reports mse, but this run measures accuracy/],
      [{ before: 1e308 }, /before/],
      [{ before: Number.NaN }, /before/],
    ];
    for (const [bad, message] of cases) {
      expect(c.submitEvaluation('h', report(bad)), String(message)).toMatchObject({ ok: false, error: matching(message) });
      expect(c.submitUpdate('a', meta({ evaluation: { ...evaluation, ...bad } }), frame([1, 2, 3])), String(message)).toMatchObject({
        ok: false,
        error: matching(message),
      });
    }
    // A refused update did not count as an answer: the honest one afterwards is folded.
    expect(c.submitUpdate('a', meta({ loss: -1 }), frame([1, 2, 3]))).toMatchObject({ ok: false, error: matching(/loss/) });
    expect(c.submitUpdate('a', meta(), frame([1, 2, 3]))).toMatchObject({ ok: true });
    expect(c.submitEvaluation('h', report({}))).toMatchObject({ ok: true });
    expect(c.metrics()).toEqual({ loss: 0.3, global: 0.5, personalized: 0.75, heldOutGlobal: 0.5, heldOutPersonalized: 0.75 });
  });

  it('keeps the aggregated metrics finite at the largest figures it accepts', () => {
    const c = collector({ metric: 'mse', trainers: ['a', 'b'], evaluators: [] });
    const huge = { metric: 'mse' as const, before: 1e30, after: 1e30, adaptSteps: 100, testExamples: 1_000_000 };
    expect(c.submitUpdate('a', meta({ numExamples: 1_000_000, loss: 1e30, evaluation: huge }), frame([1, 2, 3]))).toMatchObject({
      ok: true,
    });
    expect(c.submitUpdate('b', meta({ numExamples: 1_000_000, loss: 1e30, evaluation: huge }), frame([1, 2, 3]))).toMatchObject({
      ok: true,
    });
    const { loss, global, personalized } = c.metrics();
    expect([loss, global, personalized]).toEqual([1e30, 1e30, 1e30]);
  });
});
