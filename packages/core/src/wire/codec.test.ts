import { describe, expect, it } from 'vitest';
import { createRng } from '../rng.js';
import { decodeFrame, encodeFrame, frameByteLength, peekHeader, type FrameDtype, type FrameInput } from './codec.js';
import { expectWireError } from './expect-wire-error.js';

const BASE = { kind: 'delta', protocolVersion: 1, runId: 'run-1', round: 7, modelVersion: 6 } as const;

function frame(values: number[] | Float32Array, dtype: FrameDtype, extra: Partial<FrameInput> = {}): Uint8Array {
  return encodeFrame({ ...BASE, dtype, values: Float32Array.from(values), ...extra });
}

function randomValues(seed: number, length: number, spread = 1): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length }, () => rng.normal() * spread);
}

describe('float32 frames', () => {
  it('round-trip bit-exactly, including -0, float32 subnormals and the largest float32', () => {
    // Prepare
    const values = new Float32Array([0, -0, 1.5, -3.25, 1e-45, -1e-40, 3.4028234663852886e38, 0.1]);

    // Execute
    const { header, values: back } = decodeFrame(frame(values, 'float32'));

    // Assert
    expect(Array.from(new Uint32Array(back.buffer))).toEqual(Array.from(new Uint32Array(values.buffer)));
    expect(Object.is(back[1], -0)).toBe(true);
    expect(header).toMatchObject({
      kind: 'delta',
      dtype: 'float32',
      protocolVersion: 1,
      runId: 'run-1',
      round: 7,
      modelVersion: 6,
      length: 8,
      segments: [8],
    });
    expect(header.scales).toBeUndefined();
  });

  it('decode into a fresh array that does not alias the frame', () => {
    // Prepare
    const bytes = frame([1, 2, 3], 'float32');

    // Execute
    const { values } = decodeFrame(bytes);
    bytes.fill(0, bytes.length - 12);

    // Assert
    expect(Array.from(values)).toEqual([1, 2, 3]);
  });

  it('decode from an ArrayBuffer and from a Uint8Array at an odd offset (a pooled Node Buffer)', () => {
    // Prepare
    const bytes = frame(randomValues(1, 101), 'float32');
    const pool = new Uint8Array(bytes.length + 3);
    pool.set(bytes, 3);
    const unaligned = pool.subarray(3);

    // Execute
    const fromBuffer = decodeFrame(bytes.slice().buffer).values;
    const fromUnaligned = decodeFrame(unaligned).values;

    // Assert
    expect(Array.from(fromBuffer)).toEqual(Array.from(randomValues(1, 101)));
    expect(Array.from(fromUnaligned)).toEqual(Array.from(randomValues(1, 101)));
  });
});

describe('float16 frames', () => {
  it('decode to the nearest half-precision values: ±0, subnormals, large values', () => {
    // Prepare
    const values = [0, -0, 1, -2.5, 1000.3, 65504, -65504, 1e-7, 6e-8, 2e-8, 0.1, 12345.678];

    // Execute
    const { header, values: back } = decodeFrame(frame(values, 'float16'), { length: 12 });

    // Assert
    expect(header.dtype).toBe('float16');
    expect(Array.from(back)).toEqual([
      0,
      -0,
      1,
      -2.5,
      1000.5, // half spacing at 1000 is 0.5
      65504,
      -65504,
      2 ** -23, // subnormal: 1e-7 is 1.68 steps of 2^-24
      2 ** -24, // 6e-8 is 1.007 steps
      0, // 2e-8 is 0.34 of a step
      0.0999755859375,
      12344, // spacing 8 above 8192
    ]);
    expect(Object.is(back[1], -0)).toBe(true);
  });

  it('stay within half-precision error on random values (relative 2^-11, absolute 2^-25 near zero)', () => {
    // Prepare
    const values = randomValues(2, 5000, 100);

    // Execute
    const { values: back } = decodeFrame(frame(values, 'float16'));

    // Assert
    let worst = 0;
    for (let i = 0; i < values.length; i++) {
      const bound = Math.max(Math.abs(values[i]!) * 2 ** -11, 2 ** -25);
      worst = Math.max(worst, Math.abs(back[i]! - values[i]!) / bound);
    }
    expect(worst).toBeLessThanOrEqual(1);
    expect(worst).toBeGreaterThan(0.5); // the bound is tight, so a looser codec would show
  });

  it('refuse a value that overflows float16, naming it', () => {
    expectWireError(
      () => frame([1, 2, 70000], 'float16'),
      'non-finite',
      'cannot encode as float16: values[2] is 70000 (segment 0, element 2 of 3), which overflows to Infinity (largest float16 is 65504)',
    );
  });

  it('encode the overflow as Infinity when a robustness test asks for it, and decoding refuses it', () => {
    // Prepare
    const bytes = frame([1, 70000], 'float16', { allowNonFinite: true });

    // Execute / Assert
    expectWireError(
      () => decodeFrame(bytes),
      'non-finite',
      'frame carries a non-finite value: values[1] is Infinity (segment 0, element 1 of 2)',
    );
  });
});

describe('int8 frames', () => {
  it('use one scale per segment: tiny biases survive next to huge weights', () => {
    // Prepare
    const tiny = [0.0011, -0.002, 0.0005, 0];
    const huge = [1000, -600, 250];

    // Execute
    const { header, values } = decodeFrame(frame([...tiny, ...huge], 'int8', { segments: [4, 3] }));

    // Assert
    expect(header.segments).toEqual([4, 3]);
    expect(header.scales![0]).toBeCloseTo(0.002 / 127, 10);
    expect(header.scales![1]).toBeCloseTo(1000 / 127, 5);
    // q = round(v / scale): 0.0011 -> 69.85 -> 70 steps; -600 -> -76.2 -> -76 steps
    expect(values[0]).toBeCloseTo((70 * 0.002) / 127, 9);
    expect(values[1]).toBeCloseTo(-0.002, 9);
    expect(values[2]).toBeCloseTo((32 * 0.002) / 127, 9); // 31.75 -> 32
    expect(values[3]).toBe(0);
    expect(values[4]).toBeCloseTo(1000, 3);
    expect(values[5]).toBeCloseTo(-598.425, 3);
    expect(values[6]).toBeCloseTo(251.969, 3); // 31.75 -> 32
    for (let i = 0; i < 4; i++) expect(Math.abs(values[i]! - tiny[i]!)).toBeLessThanOrEqual(header.scales![0]! / 2);
  });

  it('flatten the tiny segment when it shares one scale with the huge one (why segments matter)', () => {
    // Execute
    const { values } = decodeFrame(frame([0.0011, -0.002, 0.0005, 0, 1000, -600, 250], 'int8'));

    // Assert
    expect(Array.from(values.subarray(0, 4))).toEqual([0, 0, 0, 0]);
  });

  it('give an all-zero segment scale 0 and decode it to zeros', () => {
    // Execute
    const { header, values } = decodeFrame(frame([0, 0, 0, 3, -1.4], 'int8', { segments: [3, 2] }));

    // Assert
    expect(header.scales).toEqual([0, Math.fround(3 / 127)]);
    expect(Array.from(values.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(values[3]).toBeCloseTo(3, 6);
    expect(values[4]).toBeCloseTo(-1.393701, 6); // -59.27 -> -59 steps of 3/127
  });

  it('stay within scale/2 per element on random segments of different magnitudes', () => {
    // Prepare
    const segments = [300, 10, 784, 1, 50];
    const spreads = [1e-3, 5, 0.1, 42, 1e-6];
    const values = new Float32Array(segments.reduce((a, b) => a + b, 0));
    let start = 0;
    for (const [k, size] of segments.entries()) {
      values.set(randomValues(10 + k, size, spreads[k]), start);
      start += size;
    }

    // Execute
    const { header, values: back } = decodeFrame(frame(values, 'int8', { segments }));

    // Assert: error / (scale/2) per element never exceeds 1 (a hair of float32 rounding allowed)
    let worst = 0;
    start = 0;
    for (const [k, size] of segments.entries()) {
      const scale = header.scales![k]!;
      for (let i = start; i < start + size; i++) worst = Math.max(worst, Math.abs(back[i]! - values[i]!) / (scale / 2));
      start += size;
    }
    expect(worst).toBeLessThanOrEqual(1 + 1e-5);
    expect(worst).toBeGreaterThan(0.9);
  });

  it('keep values of float32 subnormal size instead of underflowing the scale to 0', () => {
    // Execute
    const { header, values } = decodeFrame(frame([1e-44, -5e-45], 'int8'));

    // Assert
    expect(header.scales).toEqual([2 ** -149]);
    expect(Array.from(values)).toEqual([Math.fround(1e-44), Math.fround(-5e-45)]);
  });
});

describe('encodeFrame input checks', () => {
  it('refuses NaN and Infinity, naming the first one and its segment', () => {
    expectWireError(
      () => frame([1, 2, 3, NaN, Infinity], 'float32', { segments: [2, 3] }),
      'non-finite',
      'cannot encode non-finite value: values[3] is NaN (segment 1, element 1 of 3)',
    );
    expectWireError(
      () => frame([-Infinity], 'int8'),
      'non-finite',
      'cannot encode non-finite value: values[0] is -Infinity (segment 0, element 0 of 1)',
    );
  });

  it('refuses segments that do not add up, run ids over 64 bytes and out-of-range header fields', () => {
    expectWireError(() => frame([1, 2, 3], 'float32', { segments: [1, 1] }), 'segments', 'segment lengths sum to 2 but there are 3 values');
    expectWireError(() => frame([1], 'float32', { runId: 'é'.repeat(33) }), 'bad-run-id', 'run id is 66 UTF-8 bytes; the limit is 64');
    expectWireError(
      () => frame([1], 'float32', { round: -1 }),
      'invalid-input',
      'cannot encode frame: round must be an integer in 0..4294967295, got -1',
    );
    expectWireError(
      () => frame([1], 'float32', { protocolVersion: 70000 }),
      'invalid-input',
      'cannot encode frame: protocolVersion must be an integer in 0..65535, got 70000',
    );
    expectWireError(() => frame([1], 'bfloat16' as FrameDtype), 'invalid-input', 'cannot encode frame: unknown dtype "bfloat16"');
  });

  it('accepts a run id of exactly 64 bytes and an empty frame', () => {
    // Execute
    const long = decodeFrame(frame([1], 'float32', { runId: 'x'.repeat(64) })).header;
    const empty = decodeFrame(frame([], 'int8')).header;

    // Assert
    expect(long.runId).toBe('x'.repeat(64));
    expect(empty).toMatchObject({ length: 0, segments: [0], scales: [0] });
  });
});

describe('peekHeader', () => {
  it('reads the header from its bytes alone, before any payload has been looked at', () => {
    // Prepare
    const bytes = encodeFrame({
      kind: 'weights',
      protocolVersion: 3,
      runId: 'rün-ε',
      round: 42,
      modelVersion: 41,
      dtype: 'int8',
      values: randomValues(4, 1000),
      segments: [600, 400],
    });
    const full = peekHeader(bytes);

    // Execute
    const header = peekHeader(bytes.subarray(0, full.payloadOffset));

    // Assert
    expect(header).toEqual({
      wireVersion: 1,
      protocolVersion: 3,
      kind: 'weights',
      dtype: 'int8',
      round: 42,
      modelVersion: 41,
      runId: 'rün-ε',
      length: 1000,
      segments: [600, 400],
      scales: full.scales,
      payloadOffset: 48, // 21 + 8 run id bytes + 2 + 2 * 8, padded from 47
      byteLength: 1048,
    });
    expect(header.scales).toHaveLength(2);
  });

  it('refuses a stale round from the header even when the payload is cut off', () => {
    // Prepare
    const bytes = frame(randomValues(5, 100), 'float32');

    // Execute / Assert
    expectWireError(
      () => peekHeader(bytes.subarray(0, 40), { runId: 'run-1', round: 8 }),
      'mismatch',
      'frame is for round 7, expected round 8',
    );
  });
});

describe('frameByteLength', () => {
  it('gives the literal size of a 79510-parameter float32 frame', () => {
    // 21 fixed + 5 run id + 2 segment count + 4 * 4 segment lengths = 44 (aligned), + 4 * 79510
    expect(frameByteLength(79510, 'float32', [78400, 100, 1000, 10], 'run-1')).toBe(318084);
    expect(frameByteLength(79510, 'int8', 4, 'run-1')).toBe(60 + 79510);
  });

  it('equals the encoded length for every dtype, run id and segment count', () => {
    // Prepare
    const cases: [FrameDtype, string, number[]][] = [];
    for (const dtype of ['float32', 'float16', 'int8'] as const) {
      for (const runId of ['', 'a', 'run-1', 'rün-ε', 'x'.repeat(64)]) {
        for (const segments of [[0], [7], [3, 4], [1, 1, 1, 1, 3], []]) cases.push([dtype, runId, segments]);
      }
    }

    // Execute / Assert
    for (const [dtype, runId, segments] of cases) {
      const length = segments.reduce((a, b) => a + b, 0);
      const bytes = encodeFrame({ ...BASE, runId, dtype, values: randomValues(6, length), segments });
      expect(frameByteLength(length, dtype, segments, runId)).toBe(bytes.length);
      expect(bytes.length % 1).toBe(0);
      expect(peekHeader(bytes).payloadOffset % 4).toBe(0);
    }
    expect(cases).toHaveLength(75);
  });
});

describe('frames received as Node Buffers', () => {
  it('decodes a frame that sits at an odd offset inside a pooled Buffer', () => {
    // socket.io hands binary messages to Node listeners as Buffers that share one larger ArrayBuffer.
    const frame = encodeFrame({
      kind: 'weights',
      protocolVersion: 1,
      runId: 'r',
      round: 1,
      modelVersion: 0,
      dtype: 'float32',
      values: Float32Array.from([1, 2, 3]),
    });
    const pool = Buffer.alloc(frame.byteLength + 95);
    pool.set(frame, 90);
    const received = pool.subarray(90, 90 + frame.byteLength);
    expect(Array.from(decodeFrame(received).values)).toEqual([1, 2, 3]);
  });
});

describe('decoding into a view', () => {
  const frame = encodeFrame({
    kind: 'delta',
    protocolVersion: 1,
    runId: 'run',
    round: 1,
    modelVersion: 0,
    dtype: 'float32',
    values: Float32Array.from([1, 2, 3, 4]),
  });

  it('returns a view on an aligned float32 payload when asked, a copy otherwise', () => {
    const view = decodeFrame(frame, {}, { view: true }).values;
    expect(view.buffer).toBe(frame.buffer);
    expect(Array.from(view)).toEqual([1, 2, 3, 4]);
    expect(decodeFrame(frame).values.buffer).not.toBe(frame.buffer);
  });

  it('copies when the payload is not 4-byte aligned, and still refuses non-finite values', () => {
    const shifted = new Uint8Array(frame.byteLength + 1).fill(0);
    shifted.set(frame, 1);
    const values = decodeFrame(shifted.subarray(1), {}, { view: true }).values;
    expect(values.buffer).not.toBe(shifted.buffer);
    expect(Array.from(values)).toEqual([1, 2, 3, 4]);
    const bad = encodeFrame({
      kind: 'delta',
      protocolVersion: 1,
      runId: 'run',
      round: 1,
      modelVersion: 0,
      dtype: 'float32',
      values: Float32Array.from([1, Number.NaN]),
      allowNonFinite: true,
    });
    expect(() => decodeFrame(bad, {}, { view: true })).toThrow(/NaN/);
  });
});
