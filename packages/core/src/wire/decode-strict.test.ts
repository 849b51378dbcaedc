import { describe, expect, it } from 'vitest';
import { decodeFrame, decodeMaskedFrame, encodeFrame, encodeMaskedFrame, peekHeader, type FrameDtype, type FrameInput } from './codec.js';
import { expectWireError } from './expect-wire-error.js';

// Header offsets for run id "run-1" (5 bytes): see the layout table in codec.ts.
const KIND = 6;
const DTYPE = 7;
const COUNT = 16;
const RUN_ID_LENGTH = 20;
const RUN_ID = 21;
const SEGMENT_TABLE = 28;

const BASE = { kind: 'delta', protocolVersion: 1, runId: 'run-1', round: 7, modelVersion: 6 } as const;

function frame(values: number[], dtype: FrameDtype = 'float32', extra: Partial<FrameInput> = {}): Uint8Array {
  return encodeFrame({ ...BASE, dtype, values: Float32Array.from(values), ...extra });
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

describe('decodeFrame refuses', () => {
  it('bytes that are not a Tabula frame (bad-magic)', () => {
    // Prepare
    const json = new TextEncoder().encode('{"runId":"run-1","values":[1,2,3]}');

    // Execute / Assert
    expectWireError(() => decodeFrame(json), 'bad-magic', 'not a Tabula wire frame: starts with bytes 7b 22 72 75, expected "TBW1"');
  });

  it('a frame of another wire layout (version)', () => {
    // Prepare
    const bytes = frame([1, 2]);
    bytes[3] = 0x32;

    // Execute / Assert
    expectWireError(
      () => decodeFrame(bytes),
      'version',
      'unsupported wire format: magic byte 4 is 0x32 ("TBW2"), this build reads only "TBW1"',
    );
  });

  it('a frame from another protocol version (version)', () => {
    // Prepare
    const bytes = frame([1, 2], 'float32', { protocolVersion: 1 });

    // Execute / Assert
    expectWireError(() => decodeFrame(bytes, { protocolVersion: 2 }), 'version', 'frame speaks protocol version 1, expected 2');
  });

  it('an unknown kind (bad-kind)', () => {
    // Prepare
    const bytes = frame([1, 2]);
    bytes[KIND] = 9;

    // Execute / Assert
    expectWireError(() => decodeFrame(bytes), 'bad-kind', 'unknown frame kind byte 9 (1 = weights, 2 = delta, 3 = masked)');
  });

  it('an unknown dtype (bad-dtype)', () => {
    // Prepare
    const bytes = frame([1, 2]);
    bytes[DTYPE] = 0;

    // Execute / Assert
    expectWireError(() => decodeFrame(bytes), 'bad-dtype', 'unknown frame dtype byte 0 (1 = float32, 2 = float16, 3 = int8, 4 = uint32)');
  });

  it('a header cut short anywhere (truncated)', () => {
    // Prepare
    const bytes = frame([1, 2, 3, 4, 5, 6], 'int8', { segments: [1, 2, 3] }); // header 21 + 5 + 2 + 3 * 8 = 52

    // Execute / Assert
    expectWireError(
      () => decodeFrame(bytes.subarray(0, 2)),
      'truncated',
      'frame truncated: the magic needs 4 bytes but the frame has only 2',
    );
    expectWireError(
      () => decodeFrame(bytes.subarray(0, 10)),
      'truncated',
      'frame truncated: the fixed header needs 21 bytes but the frame has only 10',
    );
    expectWireError(
      () => decodeFrame(bytes.subarray(0, 24)),
      'truncated',
      'frame truncated: a 5-byte run id and the segment count needs 28 bytes but the frame has only 24',
    );
    expectWireError(
      () => decodeFrame(bytes.subarray(0, 40)),
      'truncated',
      'frame truncated: a header with 3 int8 segments needs 52 bytes but the frame has only 40',
    );
  });

  it('a payload cut short (truncated), saying how much was promised and how much arrived', () => {
    // Prepare
    const bytes = frame(Array.from({ length: 79510 }, (_, i) => i / 79510));
    const { payloadOffset } = peekHeader(bytes);

    // Execute / Assert
    expectWireError(
      () => decodeFrame(bytes.subarray(0, payloadOffset + 1000)),
      'truncated',
      'frame truncated: header says 79510 float32 values (318040 bytes) but only 1000 payload bytes arrived',
    );
    const half = frame([1, 2, 3], 'float16');
    expectWireError(
      () => decodeFrame(half.subarray(0, half.length - 1)),
      'truncated',
      'frame truncated: header says 3 float16 values (6 bytes) but only 5 payload bytes arrived',
    );
  });

  it('bytes after the payload (trailing)', () => {
    // Prepare
    const bytes = frame([1, 2, 3]);
    const longer = new Uint8Array(bytes.length + 12);
    longer.set(bytes);

    // Execute / Assert
    expectWireError(() => decodeFrame(longer), 'trailing', 'frame has 12 trailing bytes after its 3 float32 values (12 payload bytes)');
  });

  it('segment lengths that do not sum to the element count (segments)', () => {
    // Prepare
    const bytes = frame([1, 2, 3, 4], 'float32', { segments: [2, 2] });
    view(bytes).setUint32(SEGMENT_TABLE, 3, true);

    // Execute / Assert
    expectWireError(() => decodeFrame(bytes), 'segments', 'segment lengths sum to 5 but the header says 4 values (2 segments)');
  });

  it('an element count other than the model parameter count (length)', () => {
    // Prepare
    const bytes = frame([1, 2, 3, 4]);

    // Execute / Assert
    expectWireError(() => decodeFrame(bytes, { length: 5 }), 'length', "frame carries 4 values, expected 5 (the model's parameter count)");
  });

  it('more elements than the receiver allows (too-large), from the header alone', () => {
    // Prepare: a 40-byte frame that claims a billion values
    const bytes = frame([1, 2, 3, 4]);
    view(bytes).setUint32(COUNT, 1e9, true);
    view(bytes).setUint32(SEGMENT_TABLE, 1e9, true);

    // Execute / Assert
    expectWireError(
      () => decodeFrame(bytes, { maxElements: 1_000_000 }),
      'too-large',
      'frame carries 1000000000 values, more than the limit of 1000000',
    );
    expectWireError(
      () => decodeFrame(bytes),
      'truncated',
      'frame truncated: header says 1000000000 float32 values (4000000000 bytes) but only 16 payload bytes arrived',
    );
  });

  it.each([
    [{ kind: 'weights' as const }, 'frame carries delta, expected weights'],
    [{ runId: 'run-2' }, 'frame is for run "run-1", expected run "run-2"'],
    [{ round: 8 }, 'frame is for round 7, expected round 8'],
    [{ modelVersion: 5 }, 'frame is based on model version 6, expected model version 5'],
  ])('a frame for another kind, run, round or model version (mismatch): %o', (expected, message) => {
    // Prepare
    const bytes = frame([1, 2]);

    // Execute / Assert
    expectWireError(() => decodeFrame(bytes, expected), 'mismatch', message);
  });

  it('NaN or Infinity among float32 values (non-finite), naming the first one', () => {
    // Prepare
    const bytes = frame([1, 2, NaN, Infinity], 'float32', { segments: [2, 2], allowNonFinite: true });
    const infinite = frame([1, -Infinity], 'float32', { allowNonFinite: true });

    // Execute / Assert
    expectWireError(
      () => decodeFrame(bytes),
      'non-finite',
      'frame carries a non-finite value: values[2] is NaN (segment 1, element 0 of 2)',
    );
    expectWireError(
      () => decodeFrame(infinite),
      'non-finite',
      'frame carries a non-finite value: values[1] is -Infinity (segment 0, element 1 of 2)',
    );
  });

  it('a float16 NaN in the payload (non-finite)', () => {
    // Prepare
    const bytes = frame([1, 2, 3], 'float16');
    const { payloadOffset } = peekHeader(bytes);
    view(bytes).setUint16(payloadOffset + 2, 0x7e00, true);

    // Execute / Assert
    expectWireError(
      () => decodeFrame(bytes),
      'non-finite',
      'frame carries a non-finite value: values[1] is NaN (segment 0, element 1 of 3)',
    );
  });

  it('a non-finite int8 scale (non-finite), even before the payload is read', () => {
    // Prepare
    const infiniteScale = frame([1, Infinity, 0.5], 'int8', { segments: [1, 2], allowNonFinite: true });
    const nanScale = frame([1, 2, 3], 'int8', { segments: [1, 2] });
    view(nanScale).setFloat32(SEGMENT_TABLE + 8 + 4, NaN, true); // segment 1: length then scale

    // Execute / Assert
    expectWireError(() => decodeFrame(infiniteScale), 'non-finite', 'int8 scale of segment 1 is Infinity');
    expectWireError(() => peekHeader(infiniteScale.subarray(0, 44)), 'non-finite', 'int8 scale of segment 1 is Infinity'); // header only
    expectWireError(() => peekHeader(nanScale), 'non-finite', 'int8 scale of segment 1 is NaN');
  });

  it('a negative int8 scale (bad-scale)', () => {
    // Prepare
    const bytes = frame([1, 2], 'int8');
    view(bytes).setFloat32(SEGMENT_TABLE + 4, -0.5, true);

    // Execute / Assert
    expectWireError(() => decodeFrame(bytes), 'bad-scale', 'int8 scale of segment 0 is negative (-0.5)');
  });

  it('a run id over 64 bytes or not UTF-8 (bad-run-id)', () => {
    // Prepare
    const long = frame([1]);
    long[RUN_ID_LENGTH] = 65;
    const garbled = frame([1]);
    garbled[RUN_ID] = 0xff;

    // Execute / Assert
    expectWireError(() => decodeFrame(long), 'bad-run-id', 'run id length 65 exceeds the 64-byte limit');
    expectWireError(() => decodeFrame(garbled), 'bad-run-id', 'run id is not valid UTF-8: ff 75 6e 2d 31');
  });

  it('something that is not bytes at all (invalid-input)', () => {
    expectWireError(
      () => decodeFrame('TBW1' as unknown as Uint8Array),
      'invalid-input',
      'a frame must be a Uint8Array or an ArrayBuffer, got string',
    );
  });
});

describe('masked frames (secure aggregation inputs)', () => {
  const masked = (words: number[]) =>
    encodeMaskedFrame({ protocolVersion: 1, runId: 'run-1', round: 7, modelVersion: 6, words: Uint32Array.from(words) });

  it('round-trip every 32-bit word, at exactly 4 bytes a word after the header', () => {
    // Prepare
    const words = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 123456789];

    // Execute
    const bytes = masked(words);
    const { header, words: decoded } = decodeMaskedFrame(bytes, { runId: 'run-1', round: 7, modelVersion: 6, length: 6 });

    // Assert
    expect([...decoded]).toEqual(words);
    expect(header).toMatchObject({ kind: 'masked', dtype: 'uint32', length: 6, segments: [6] });
    expect(bytes.byteLength).toBe(header.payloadOffset + 4 * words.length);
  });

  it('are refused where weights or a delta are expected, and a delta where a masked input is', () => {
    expectWireError(() => decodeFrame(masked([1, 2])), 'mismatch', 'frame carries masked ring words, not weights or a delta');
    expectWireError(() => decodeFrame(masked([1, 2]), { kind: 'delta' }), 'mismatch', 'frame carries masked, expected delta');
    expectWireError(() => decodeMaskedFrame(frame([1, 2])), 'mismatch', 'frame carries delta, expected masked');
  });

  it('refuse a kind and a dtype that do not go together, and a wrong length or trailing bytes', () => {
    // Prepare
    const floatsAsMasked = frame([1, 2]);
    floatsAsMasked[KIND] = 3;
    const wordsAsDelta = masked([1, 2]);
    wordsAsDelta[KIND] = 2;
    const longer = new Uint8Array([...masked([1, 2]), 0, 0, 0, 0]);

    // Execute / Assert
    expectWireError(
      () => decodeMaskedFrame(floatsAsMasked),
      'bad-dtype',
      'a masked frame cannot carry float32 values: masked frames carry uint32 and only they do',
    );
    expectWireError(
      () => decodeFrame(wordsAsDelta),
      'bad-dtype',
      'a delta frame cannot carry uint32 values: masked frames carry uint32 and only they do',
    );
    expectWireError(() => decodeMaskedFrame(masked([1, 2]), { length: 3 }), 'length', /carries 2 values, expected 3/);
    expectWireError(() => decodeMaskedFrame(longer), 'trailing', 'frame has 4 trailing bytes after its 2 uint32 values (8 payload bytes)');
  });
});
