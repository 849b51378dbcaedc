import { describe, expect, it } from 'vitest';
import { createRng } from '../rng.js';
import { decodeFrame, encodeFrame, type FrameDtype } from './codec.js';
import { ErrorFeedback, type FrameFields } from './error-feedback.js';
import { expectWireError } from './expect-wire-error.js';

function fields(round: number, dtype: FrameDtype, segments?: number[]): FrameFields {
  return { kind: 'delta', protocolVersion: 1, runId: 'run-1', round, modelVersion: round - 1, dtype, ...(segments ? { segments } : {}) };
}

/** Sends the same delta for `rounds` rounds; returns the hub's running sum of decoded deltas. */
function sumOfDecoded(delta: Float32Array, rounds: number, dtype: FrameDtype, feedback: ErrorFeedback | null, segments?: number[]) {
  const sum = new Float64Array(delta.length);
  let worstResidualOverHalfScale = 0;
  for (let round = 1; round <= rounds; round++) {
    const frame = feedback
      ? feedback.encode(delta, fields(round, dtype, segments))
      : encodeFrame({ ...fields(round, dtype, segments), values: delta });
    const { header, values } = decodeFrame(frame, { kind: 'delta', round, length: delta.length });
    for (let i = 0; i < values.length; i++) sum[i]! += values[i]!;
    if (feedback && header.scales) {
      const residual = feedback.residual();
      let start = 0;
      for (const [k, size] of header.segments.entries()) {
        for (let i = start; i < start + size; i++)
          worstResidualOverHalfScale = Math.max(worstResidualOverHalfScale, Math.abs(residual[i]!) / (header.scales[k]! / 2));
        start += size;
      }
    }
  }
  return { sum, worstResidualOverHalfScale };
}

function maxError(sum: Float64Array, delta: Float32Array, rounds: number): number {
  let worst = 0;
  for (let i = 0; i < delta.length; i++) worst = Math.max(worst, Math.abs(sum[i]! - rounds * delta[i]!));
  return worst;
}

describe('ErrorFeedback', () => {
  it('delivers a component smaller than half an int8 step that plain int8 drops every round', () => {
    // Prepare: scale is 1/127 = 0.00787; 0.003 is 0.38 of a step, so plain int8 rounds it to 0
    const delta = new Float32Array([1, 0.003, -0.0025, 0.25]);
    const rounds = 100;

    // Execute
    const plain = sumOfDecoded(delta, rounds, 'int8', null);
    const fed = sumOfDecoded(delta, rounds, 'int8', new ErrorFeedback(4));

    // Assert
    expect(plain.sum[1]).toBe(0);
    expect(plain.sum[2]).toBe(0);
    expect(maxError(plain.sum, delta, rounds)).toBeCloseTo(0.3, 5);
    expect(fed.sum[1]).toBeCloseTo(0.3, 2);
    expect(fed.sum[2]).toBeCloseTo(-0.25, 2);
    expect(maxError(fed.sum, delta, rounds)).toBeLessThan(0.004); // one residual: at most half a step
  });

  it('tracks the sum of true deltas far better than plain int8 on a random model, with a bounded residual', () => {
    // Prepare: three tensors of different magnitudes, as a model has
    const rng = createRng(21);
    const segments = [784 * 20, 20, 200];
    const spreads = [0.01, 0.001, 0.05];
    const delta = new Float32Array(segments.reduce((a, b) => a + b, 0));
    let start = 0;
    for (const [k, size] of segments.entries()) {
      for (let i = start; i < start + size; i++) delta[i] = rng.normal() * spreads[k]!;
      start += size;
    }
    const rounds = 50;

    // Execute
    const plain = sumOfDecoded(delta, rounds, 'int8', null, segments);
    const fed = sumOfDecoded(delta, rounds, 'int8', new ErrorFeedback(delta.length), segments);

    // Assert
    const plainError = maxError(plain.sum, delta, rounds);
    const fedError = maxError(fed.sum, delta, rounds);
    expect(fedError * 20).toBeLessThan(plainError); // plain error grows with rounds, the fed one does not
    expect(fed.worstResidualOverHalfScale).toBeLessThanOrEqual(1 + 1e-4);
    expect(fed.worstResidualOverHalfScale).toBeGreaterThan(0.5);
  });

  it('helps float16 too', () => {
    // Prepare: 1 + 2^-12 is a quarter of a half-precision step above 1
    const delta = new Float32Array([1 + 2 ** -12]);

    // Execute
    const plain = sumOfDecoded(delta, 64, 'float16', null);
    const fed = sumOfDecoded(delta, 64, 'float16', new ErrorFeedback(1));

    // Assert
    expect(plain.sum[0]).toBe(64);
    expect(fed.sum[0]).toBe(64 + 64 * 2 ** -12);
  });

  it('is exact for float32: the frame carries the delta and the residual stays zero', () => {
    // Prepare
    const feedback = new ErrorFeedback(3);
    const delta = new Float32Array([0.1, -2, 3e-8]);

    // Execute
    const { values } = decodeFrame(feedback.encode(delta, fields(1, 'float32')));

    // Assert
    expect(Array.from(values)).toEqual(Array.from(delta));
    expect(Array.from(feedback.residual())).toEqual([0, 0, 0]);
  });

  it('flushes an int8 residual into the next float32 frame when the codec changes', () => {
    // Prepare
    const feedback = new ErrorFeedback(2);
    const delta = new Float32Array([1, 0.003]);
    feedback.encode(delta, fields(1, 'int8'));
    const carried = feedback.residual();

    // Execute
    const { values } = decodeFrame(feedback.encode(delta, fields(2, 'float32')));

    // Assert
    expect(carried[1]).toBeCloseTo(0.003, 7);
    expect(values[1]).toBeCloseTo(0.006, 7);
    expect(Array.from(feedback.residual())).toEqual([0, 0]);
  });

  it('refuses a delta of the wrong length or with NaN, and keeps its residual', () => {
    // Prepare
    const feedback = new ErrorFeedback(2);
    feedback.encode(new Float32Array([1, 0.003]), fields(1, 'int8'));
    const before = Array.from(feedback.residual());

    // Execute / Assert
    expectWireError(
      () => feedback.encode(new Float32Array(3), fields(2, 'int8')),
      'length',
      'error feedback holds 2 values but the delta has 3',
    );
    expectWireError(
      () => feedback.encode(new Float32Array([NaN, 0]), fields(2, 'int8')),
      'non-finite',
      'cannot encode non-finite value: values[0] is NaN (segment 0, element 0 of 2)',
    );
    expect(Array.from(feedback.residual())).toEqual(before);
    expect(before[1]).not.toBe(0);
  });

  it('forgets its residual on reset', () => {
    // Prepare
    const feedback = new ErrorFeedback(2);
    feedback.encode(new Float32Array([1, 0.003]), fields(1, 'int8'));

    // Execute
    feedback.reset();

    // Assert
    expect(Array.from(feedback.residual())).toEqual([0, 0]);
  });
});
