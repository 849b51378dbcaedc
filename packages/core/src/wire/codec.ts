/**
 * One binary frame for weights (hub -> tab) and deltas (tab -> hub). Little-endian throughout:
 *
 *   offset  size  field
 *   0       4     magic "TBW1" (the digit is WIRE_FORMAT_VERSION, the layout of this header)
 *   4       2     protocol version (u16, the caller's PROTOCOL_VERSION)
 *   6       1     kind (u8): 1 weights, 2 delta, 3 masked (a secure aggregation input: always uint32)
 *   7       1     dtype (u8): 1 float32, 2 float16, 3 int8, 4 uint32 (ring words mod 2^32, only in masked frames)
 *   8       4     round (u32)
 *   12      4     model version (u32)
 *   16      4     element count (u32)
 *   20      1     run id byte length n (u8, at most 64)
 *   21      n     run id (UTF-8)
 *   21+n    2     segment count s (u16)
 *   23+n    4s    per segment: length (u32); int8 adds its scale (f32) after each length, 8s in all
 *   ...     0-3   zero padding, so the payload starts 4-byte aligned
 *   ...           payload: count values of dtype (int8 value i of segment k decodes as q * scale[k])
 *
 * Segments are the model's tensors; int8 gets one symmetric scale per tensor so a layer of tiny biases is
 * not flattened by a layer of large weights. Decoding is strict: every malformed or unexpected frame
 * throws a WireError with a code and a message that names the numbers, since the hub sends it back in
 * its error ack.
 */
import { decodeFloat16, encodeFloat16, FLOAT16_MAX } from './float16.js';
import { WireError } from './wire-error.js';

export const WIRE_FORMAT_VERSION = 1;
export const MAX_RUN_ID_BYTES = 64;
export const MAX_SEGMENTS = 0xffff;
const MAX_U32 = 0xffffffff;

export const FRAME_KINDS = ['weights', 'delta', 'masked'] as const;
/** The dtypes a run may choose for its weights and deltas (its codec). */
export const FRAME_DTYPES = ['float32', 'float16', 'int8'] as const;
export type FrameKind = (typeof FRAME_KINDS)[number];
export type FrameDtype = (typeof FRAME_DTYPES)[number];
/** What a header may name: a codec's dtype, or a masked frame's ring words. */
const HEADER_DTYPES = [...FRAME_DTYPES, 'uint32'] as const;
type HeaderDtype = (typeof HEADER_DTYPES)[number];

export interface FrameInput {
  readonly kind: Exclude<FrameKind, 'masked'>;
  readonly protocolVersion: number;
  readonly runId: string;
  readonly round: number;
  readonly modelVersion: number;
  readonly dtype: FrameDtype;
  readonly values: Float32Array;
  /** Tensor sizes in layout order, summing to values.length; default one segment of all values. */
  readonly segments?: readonly number[];
  /** Only for robustness tests that must craft bad frames: encode NaN / Infinity instead of refusing. */
  readonly allowNonFinite?: boolean;
}

export interface FrameHeader {
  readonly wireVersion: number;
  readonly protocolVersion: number;
  readonly kind: FrameKind;
  readonly dtype: HeaderDtype;
  readonly round: number;
  readonly modelVersion: number;
  readonly runId: string;
  /** Element count. */
  readonly length: number;
  readonly segments: readonly number[];
  /** int8 only: one dequantization scale per segment. */
  readonly scales?: readonly number[];
  /** Offset of the payload, and the whole frame's size as the header describes it. */
  readonly payloadOffset: number;
  readonly byteLength: number;
}

/** What the receiver knows the frame must be; any field left out is not checked. */
export interface FrameExpectations {
  readonly kind?: FrameKind;
  readonly protocolVersion?: number;
  readonly runId?: string;
  readonly round?: number;
  readonly modelVersion?: number;
  /** Exact element count (the model's parameter count). */
  readonly length?: number;
  /** Upper bound on the element count, for receivers that do not know the exact one. */
  readonly maxElements?: number;
}

export interface DecodeOptions {
  /**
   * Allow `values` to be a view on the frame's own bytes (float32 frames whose payload is 4-byte aligned, on a
   * little-endian machine) instead of a copy. For a receiver that folds the values at once (the hub: it saves
   * a 318 KB allocation per MLP update); the view is only valid while the frame's buffer is.
   */
  readonly view?: boolean;
  /**
   * Skip the NaN/Infinity scan. Only for a receiver that checks finiteness itself in the same pass that uses the
   * values (the hub's `Accumulator.addIfFinite`); everything else in the frame is still checked.
   */
  readonly skipFiniteCheck?: boolean;
}

export interface DecodedFrame {
  readonly header: FrameHeader;
  /** A fresh array, unless `view` was asked for and possible. */
  readonly values: Float32Array;
}

const MAGIC = [0x54, 0x42, 0x57] as const; // "TBW"; the fourth byte is the layout version digit
const FIXED_HEADER_BYTES = 21;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function kindCode(kind: FrameKind): number {
  switch (kind) {
    case 'weights':
      return 1;
    case 'delta':
      return 2;
    case 'masked':
      return 3;
    default:
      return invalidInput(kind, 'kind');
  }
}

function dtypeCode(dtype: FrameDtype): number {
  switch (dtype) {
    case 'float32':
      return 1;
    case 'float16':
      return 2;
    case 'int8':
      return 3;
    default:
      return invalidInput(dtype, 'dtype');
  }
}

function invalidInput(value: never, field: string): never {
  throw new WireError('invalid-input', `cannot encode frame: unknown ${field} ${JSON.stringify(value)}`);
}

export function bytesPerElement(dtype: HeaderDtype): number {
  switch (dtype) {
    case 'float32':
    case 'uint32':
      return 4;
    case 'float16':
      return 2;
    case 'int8':
      return 1;
    default:
      return invalidInput(dtype, 'dtype');
  }
}

function headerByteLength(runIdBytes: number, segmentCount: number, dtype: HeaderDtype): number {
  const perSegment = dtype === 'int8' ? 8 : 4;
  const unpadded = FIXED_HEADER_BYTES + runIdBytes + 2 + segmentCount * perSegment;
  return (unpadded + 3) & ~3;
}

/** The encoded size of a frame, without encoding it (e.g. to size socket.io's maxHttpBufferSize). */
export function frameByteLength(length: number, dtype: FrameDtype, segments: number | readonly number[], runId: string): number {
  const segmentCount = typeof segments === 'number' ? segments : segments.length;
  return headerByteLength(utf8Encoder.encode(runId).length, segmentCount, dtype) + length * bytesPerElement(dtype);
}

function checkUint(field: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new WireError('invalid-input', `cannot encode frame: ${field} must be an integer in 0..${max}, got ${value}`);
  }
}

function encodeRunId(runId: string): Uint8Array {
  if (typeof runId !== 'string') throw new WireError('invalid-input', `cannot encode frame: run id must be a string, got ${typeof runId}`);
  const bytes = utf8Encoder.encode(runId);
  if (bytes.length > MAX_RUN_ID_BYTES) {
    throw new WireError('bad-run-id', `run id is ${bytes.length} UTF-8 bytes; the limit is ${MAX_RUN_ID_BYTES}`);
  }
  return bytes;
}

function checkSegments(segments: readonly number[], length: number): void {
  if (segments.length > MAX_SEGMENTS) {
    throw new WireError('segments', `cannot encode ${segments.length} segments; the limit is ${MAX_SEGMENTS}`);
  }
  let sum = 0;
  for (const [k, size] of segments.entries()) {
    checkUint(`segment ${k} length`, size, MAX_U32);
    sum += size;
  }
  if (sum !== length) throw new WireError('segments', `segment lengths sum to ${sum} but there are ${length} values`);
}

function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v - v !== 0) return i; // NaN and ±Infinity, without a call per element
  }
  return -1;
}

/** "values[17] is NaN (segment 2, element 5)": where a bad value sits, in the model's own terms. */
function describeIndex(values: Float32Array, index: number, segments: readonly number[]): string {
  let start = 0;
  for (const [k, size] of segments.entries()) {
    if (index < start + size) return `values[${index}] is ${values[index]} (segment ${k}, element ${index - start} of ${size})`;
    start += size;
  }
  return `values[${index}] is ${values[index]}`;
}

/**
 * Symmetric per-segment int8: scale = maxAbs / 127 (stored as float32, and quantized with that stored
 * value so encoder and decoder agree exactly), q = round(v / scale). Returns the scales.
 */
function quantizeInt8(values: Float32Array, segments: readonly number[], out: Int8Array, allowNonFinite: boolean): number[] {
  const scales: number[] = [];
  let start = 0;
  for (const [k, size] of segments.entries()) {
    const end = start + size;
    let maxAbs = 0;
    let sawNaN = false;
    for (let i = start; i < end; i++) {
      const a = Math.abs(values[i]!);
      if (a > maxAbs) maxAbs = a;
      else if (a !== a) sawNaN = true;
    }
    // Only reachable with allowNonFinite: the frame then carries the bad scale for the decoder to refuse.
    let scale = sawNaN ? NaN : Math.fround(maxAbs / 127);
    // maxAbs below 127 * 2^-150 underflows the scale: use the smallest float32 instead (q stays <= 64).
    if (scale === 0 && maxAbs > 0) scale = 2 ** -149;
    if (!allowNonFinite && !Number.isFinite(Math.fround(127 * scale))) {
      throw new WireError(
        'non-finite',
        `cannot encode as int8: segment ${k} reaches ${maxAbs}, too close to the float32 limit to dequantize`,
      );
    }
    if (Number.isFinite(scale) && scale > 0) {
      for (let i = start; i < end; i++) {
        const x = values[i]! / scale;
        const q = x >= 0 ? Math.floor(x + 0.5) : -Math.floor(0.5 - x);
        out[i] = q > 127 ? 127 : q < -127 ? -127 : q;
      }
    } // else all zero (fresh buffer)
    scales.push(scale);
    start = end;
  }
  return scales;
}

export function encodeFrame(input: FrameInput): Uint8Array {
  const { values, dtype } = input;
  if (!(values instanceof Float32Array)) throw new WireError('invalid-input', 'cannot encode frame: values must be a Float32Array');
  const kind = kindCode(input.kind);
  const dtypeByte = dtypeCode(dtype);
  checkUint('protocolVersion', input.protocolVersion, 0xffff);
  checkUint('round', input.round, MAX_U32);
  checkUint('modelVersion', input.modelVersion, MAX_U32);
  const runId = encodeRunId(input.runId);
  const segments = input.segments ?? [values.length];
  checkSegments(segments, values.length);
  const allowNonFinite = input.allowNonFinite === true;
  if (!allowNonFinite) {
    const bad = firstNonFinite(values);
    if (bad >= 0) throw new WireError('non-finite', `cannot encode non-finite value: ${describeIndex(values, bad, segments)}`);
  }

  const n = values.length;
  const { buffer, view, payloadOffset, segmentTable } = frameShell(kind, dtypeByte, input, runId, n, segments.length, dtype);
  let scales: number[] | null = null;
  switch (dtype) {
    case 'float32':
      if (LITTLE_ENDIAN) new Float32Array(buffer, payloadOffset, n).set(values);
      else for (let i = 0; i < n; i++) view.setFloat32(payloadOffset + 4 * i, values[i]!, true);
      break;
    case 'float16': {
      const halves = LITTLE_ENDIAN ? new Uint16Array(buffer, payloadOffset, n) : new Uint16Array(n);
      const overflow = encodeFloat16(values, halves);
      if (overflow >= 0 && !allowNonFinite) {
        throw new WireError(
          'non-finite',
          `cannot encode as float16: ${describeIndex(values, overflow, segments)}, which overflows to Infinity (largest float16 is ${FLOAT16_MAX})`,
        );
      }
      if (!LITTLE_ENDIAN) for (let i = 0; i < n; i++) view.setUint16(payloadOffset + 2 * i, halves[i]!, true);
      break;
    }
    case 'int8':
      scales = quantizeInt8(values, segments, new Int8Array(buffer, payloadOffset, n), allowNonFinite);
      break;
  }
  let offset = segmentTable;
  for (const [k, size] of segments.entries()) {
    view.setUint32(offset, size, true);
    offset += 4;
    if (scales !== null) {
      view.setFloat32(offset, scales[k]!, true);
      offset += 4;
    }
  }
  return new Uint8Array(buffer);
}

/** A frame's buffer with its header written up to the segment table, which starts at `segmentTable`. */
function frameShell(
  kind: number,
  dtypeByte: number,
  input: { readonly protocolVersion: number; readonly round: number; readonly modelVersion: number },
  runId: Uint8Array,
  n: number,
  segmentCount: number,
  dtype: HeaderDtype,
): { buffer: ArrayBuffer; view: DataView; payloadOffset: number; segmentTable: number } {
  const payloadOffset = headerByteLength(runId.length, segmentCount, dtype);
  const buffer = new ArrayBuffer(payloadOffset + n * bytesPerElement(dtype));
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  bytes[0] = MAGIC[0];
  bytes[1] = MAGIC[1];
  bytes[2] = MAGIC[2];
  bytes[3] = 0x30 + WIRE_FORMAT_VERSION;
  view.setUint16(4, input.protocolVersion, true);
  view.setUint8(6, kind);
  view.setUint8(7, dtypeByte);
  view.setUint32(8, input.round, true);
  view.setUint32(12, input.modelVersion, true);
  view.setUint32(16, n, true);
  view.setUint8(20, runId.length);
  bytes.set(runId, FIXED_HEADER_BYTES);
  const countAt = FIXED_HEADER_BYTES + runId.length;
  view.setUint16(countAt, segmentCount, true);
  return { buffer, view, payloadOffset, segmentTable: countAt + 2 };
}

/** A secure aggregation input: ring words mod 2^32, masked, so nothing in them may be checked but their count. */
export interface MaskedFrameInput {
  readonly protocolVersion: number;
  readonly runId: string;
  readonly round: number;
  readonly modelVersion: number;
  readonly words: Uint32Array;
}

/** A masked frame: the header of a delta (kind masked, dtype uint32, one segment) and the words. */
export function encodeMaskedFrame(input: MaskedFrameInput): Uint8Array {
  const { words } = input;
  if (!(words instanceof Uint32Array)) throw new WireError('invalid-input', 'cannot encode masked frame: words must be a Uint32Array');
  checkUint('protocolVersion', input.protocolVersion, 0xffff);
  checkUint('round', input.round, MAX_U32);
  checkUint('modelVersion', input.modelVersion, MAX_U32);
  const runId = encodeRunId(input.runId);
  const n = words.length;
  const { buffer, view, payloadOffset, segmentTable } = frameShell(kindCode('masked'), 4, input, runId, n, 1, 'uint32');
  view.setUint32(segmentTable, n, true);
  if (LITTLE_ENDIAN) new Uint32Array(buffer, payloadOffset, n).set(words);
  else for (let i = 0; i < n; i++) view.setUint32(payloadOffset + 4 * i, words[i]!, true);
  return new Uint8Array(buffer);
}

/** Decodes and checks a masked frame (header, expectations, exact size); the words are a fresh, aligned copy. */
export function decodeMaskedFrame(
  frame: Uint8Array | ArrayBuffer,
  expect: Omit<FrameExpectations, 'kind'> = {},
): { header: FrameHeader; words: Uint32Array } {
  const bytes = asBytes(frame);
  const header = peekHeader(bytes, { ...expect, kind: 'masked' });
  checkPayloadSize(header, bytes.length);
  const { payloadOffset, length: n } = header;
  let words: Uint32Array;
  if (LITTLE_ENDIAN) words = new Uint32Array(bytes.slice(payloadOffset, payloadOffset + 4 * n).buffer);
  else {
    words = new Uint32Array(n);
    const view = new DataView(bytes.buffer, bytes.byteOffset + payloadOffset, 4 * n);
    for (let i = 0; i < n; i++) words[i] = view.getUint32(4 * i, true);
  }
  return { header, words };
}

/** Throws unless exactly the header's payload follows it. */
function checkPayloadSize(header: FrameHeader, total: number): void {
  const { dtype, length: n, payloadOffset } = header;
  const payloadBytes = n * bytesPerElement(dtype);
  const arrived = total - payloadOffset;
  if (arrived < payloadBytes) {
    throw new WireError(
      'truncated',
      `frame truncated: header says ${n} ${dtype} values (${payloadBytes} bytes) but only ${arrived} payload bytes arrived`,
    );
  }
  if (arrived > payloadBytes) {
    throw new WireError(
      'trailing',
      `frame has ${arrived - payloadBytes} trailing bytes after its ${n} ${dtype} values (${payloadBytes} payload bytes)`,
    );
  }
}

function asBytes(frame: Uint8Array | ArrayBuffer): Uint8Array {
  const x: unknown = frame;
  // Always a plain Uint8Array view: a Node Buffer's slice() is a view into a shared pool, not a copy.
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  // toString also recognizes an ArrayBuffer from another realm (a worker, an iframe).
  if (x instanceof ArrayBuffer || Object.prototype.toString.call(x) === '[object ArrayBuffer]') return new Uint8Array(x as ArrayBuffer);
  throw new WireError('invalid-input', `a frame must be a Uint8Array or an ArrayBuffer, got ${x === null ? 'null' : typeof x}`);
}

function truncated(what: string, needed: number, have: number): WireError {
  return new WireError('truncated', `frame truncated: ${what} needs ${needed} bytes but the frame has only ${have}`);
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * Reads and checks the header only (magic, version, kind, dtype, run id, segment table, int8 scales, and
 * the expectations given), without touching the payload: `decodeFrame` starts with it, so a frame for a stale
 * round or of the wrong length is refused before its payload is read.
 */
export function peekHeader(frame: Uint8Array | ArrayBuffer, expect: FrameExpectations = {}): FrameHeader {
  const bytes = asBytes(frame);
  const total = bytes.length;
  if (total < 4) throw truncated('the magic', 4, total);
  if (bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1] || bytes[2] !== MAGIC[2]) {
    throw new WireError(
      'bad-magic',
      `not a Tabula wire frame: starts with bytes ${hex(bytes.subarray(0, 4))}, expected "TBW${WIRE_FORMAT_VERSION}"`,
    );
  }
  const wireVersion = bytes[3]! - 0x30;
  if (wireVersion !== WIRE_FORMAT_VERSION) {
    throw new WireError(
      'version',
      `unsupported wire format: magic byte 4 is 0x${bytes[3]!.toString(16)} ("TBW${String.fromCharCode(bytes[3]!)}"), this build reads only "TBW${WIRE_FORMAT_VERSION}"`,
    );
  }
  if (total < FIXED_HEADER_BYTES) throw truncated('the fixed header', FIXED_HEADER_BYTES, total);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const protocolVersion = view.getUint16(4, true);
  const kindByte = view.getUint8(6);
  const dtypeByte = view.getUint8(7);
  const kind = FRAME_KINDS[kindByte - 1];
  if (kind === undefined) throw new WireError('bad-kind', `unknown frame kind byte ${kindByte} (1 = weights, 2 = delta, 3 = masked)`);
  const dtype = HEADER_DTYPES[dtypeByte - 1];
  if (dtype === undefined)
    throw new WireError('bad-dtype', `unknown frame dtype byte ${dtypeByte} (1 = float32, 2 = float16, 3 = int8, 4 = uint32)`);
  // Ring words are meaningless as weights or a delta, and a masked input is nothing but ring words.
  if ((kind === 'masked') !== (dtype === 'uint32'))
    throw new WireError('bad-dtype', `a ${kind} frame cannot carry ${dtype} values: masked frames carry uint32 and only they do`);
  const round = view.getUint32(8, true);
  const modelVersion = view.getUint32(12, true);
  const length = view.getUint32(16, true);
  const runIdBytes = view.getUint8(20);
  if (runIdBytes > MAX_RUN_ID_BYTES) {
    throw new WireError('bad-run-id', `run id length ${runIdBytes} exceeds the ${MAX_RUN_ID_BYTES}-byte limit`);
  }
  let offset = FIXED_HEADER_BYTES;
  if (total < offset + runIdBytes + 2) throw truncated(`a ${runIdBytes}-byte run id and the segment count`, offset + runIdBytes + 2, total);
  let runId: string;
  try {
    runId = utf8Decoder.decode(bytes.subarray(offset, offset + runIdBytes));
  } catch {
    throw new WireError('bad-run-id', `run id is not valid UTF-8: ${hex(bytes.subarray(offset, offset + runIdBytes))}`);
  }
  offset += runIdBytes;
  const segmentCount = view.getUint16(offset, true);
  offset += 2;
  const payloadOffset = headerByteLength(runIdBytes, segmentCount, dtype);
  if (total < payloadOffset) {
    throw truncated(`a header with ${segmentCount} ${dtype} segment${segmentCount === 1 ? '' : 's'}`, payloadOffset, total);
  }
  const segments: number[] = [];
  const scales: number[] = [];
  let sum = 0;
  for (let k = 0; k < segmentCount; k++) {
    const size = view.getUint32(offset, true);
    offset += 4;
    segments.push(size);
    sum += size;
    if (dtype === 'int8') {
      const scale = view.getFloat32(offset, true);
      offset += 4;
      if (!Number.isFinite(scale)) throw new WireError('non-finite', `int8 scale of segment ${k} is ${scale}`);
      if (scale < 0) throw new WireError('bad-scale', `int8 scale of segment ${k} is negative (${scale})`);
      scales.push(scale);
    }
  }
  if (sum !== length) {
    throw new WireError('segments', `segment lengths sum to ${sum} but the header says ${length} values (${segmentCount} segments)`);
  }

  const header: FrameHeader = {
    wireVersion,
    protocolVersion,
    kind,
    dtype,
    round,
    modelVersion,
    runId,
    length,
    segments,
    ...(dtype === 'int8' ? { scales } : {}),
    payloadOffset,
    byteLength: payloadOffset + length * bytesPerElement(dtype),
  };
  checkExpectations(header, expect);
  return header;
}

function checkExpectations(h: FrameHeader, expect: FrameExpectations): void {
  if (expect.protocolVersion !== undefined && h.protocolVersion !== expect.protocolVersion) {
    throw new WireError('version', `frame speaks protocol version ${h.protocolVersion}, expected ${expect.protocolVersion}`);
  }
  if (expect.kind !== undefined && h.kind !== expect.kind) {
    throw new WireError('mismatch', `frame carries ${h.kind}, expected ${expect.kind}`);
  }
  if (expect.runId !== undefined && h.runId !== expect.runId) {
    throw new WireError('mismatch', `frame is for run ${JSON.stringify(h.runId)}, expected run ${JSON.stringify(expect.runId)}`);
  }
  if (expect.round !== undefined && h.round !== expect.round) {
    throw new WireError('mismatch', `frame is for round ${h.round}, expected round ${expect.round}`);
  }
  if (expect.modelVersion !== undefined && h.modelVersion !== expect.modelVersion) {
    throw new WireError('mismatch', `frame is based on model version ${h.modelVersion}, expected model version ${expect.modelVersion}`);
  }
  if (expect.maxElements !== undefined && h.length > expect.maxElements) {
    throw new WireError('too-large', `frame carries ${h.length} values, more than the limit of ${expect.maxElements}`);
  }
  if (expect.length !== undefined && h.length !== expect.length) {
    throw new WireError('length', `frame carries ${h.length} values, expected ${expect.length} (the model's parameter count)`);
  }
}

/** Decodes and checks a whole frame; see the file comment for what is refused. */
export function decodeFrame(frame: Uint8Array | ArrayBuffer, expect: FrameExpectations = {}, options: DecodeOptions = {}): DecodedFrame {
  const bytes = asBytes(frame);
  const header = peekHeader(bytes, expect);
  const { dtype, length: n, payloadOffset } = header;
  if (dtype === 'uint32') throw new WireError('mismatch', 'frame carries masked ring words, not weights or a delta');
  checkPayloadSize(header, bytes.length);
  const payloadBytes = n * bytesPerElement(dtype);

  const start = payloadOffset;
  const end = payloadOffset + payloadBytes;
  let values: Float32Array;
  switch (dtype) {
    case 'float32':
      if (LITTLE_ENDIAN && options.view && (bytes.byteOffset + start) % 4 === 0) {
        values = new Float32Array(bytes.buffer, bytes.byteOffset + start, n);
      } else if (LITTLE_ENDIAN) {
        values = new Float32Array(bytes.slice(start, end).buffer); // slice copies and aligns
      } else {
        values = new Float32Array(n);
        const view = new DataView(bytes.buffer, bytes.byteOffset + start, payloadBytes);
        for (let i = 0; i < n; i++) values[i] = view.getFloat32(4 * i, true);
      }
      break;
    case 'float16': {
      let halves: Uint16Array;
      if (LITTLE_ENDIAN) {
        halves = new Uint16Array(bytes.slice(start, end).buffer);
      } else {
        halves = new Uint16Array(n);
        const view = new DataView(bytes.buffer, bytes.byteOffset + start, payloadBytes);
        for (let i = 0; i < n; i++) halves[i] = view.getUint16(2 * i, true);
      }
      values = new Float32Array(n);
      decodeFloat16(halves, values);
      break;
    }
    case 'int8': {
      const q = new Int8Array(bytes.buffer, bytes.byteOffset + start, n);
      values = new Float32Array(n);
      let i = 0;
      for (const [k, size] of header.segments.entries()) {
        const scale = header.scales![k]!;
        for (const segmentEnd = i + size; i < segmentEnd; i++) values[i] = q[i]! * scale;
      }
      break;
    }
  }
  const bad = options.skipFiniteCheck ? -1 : firstNonFinite(values);
  if (bad >= 0) throw new WireError('non-finite', `frame carries a non-finite value: ${describeIndex(values, bad, header.segments)}`);
  return { header, values };
}
