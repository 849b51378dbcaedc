export {
  encodeFrame,
  decodeFrame,
  encodeMaskedFrame,
  decodeMaskedFrame,
  peekHeader,
  frameByteLength,
  bytesPerElement,
  WIRE_FORMAT_VERSION,
  MAX_RUN_ID_BYTES,
  MAX_SEGMENTS,
  FRAME_KINDS,
  FRAME_DTYPES,
  type FrameKind,
  type FrameDtype,
  type FrameInput,
  type MaskedFrameInput,
  type FrameHeader,
  type FrameExpectations,
  type DecodedFrame,
} from './codec.js';
export { WireError, type WireErrorCode } from './wire-error.js';
export { ErrorFeedback, type FrameFields } from './error-feedback.js';
export { float32ToFloat16Bits, float16BitsToFloat32, FLOAT16_MAX } from './float16.js';
