import { decodeFrame, encodeFrame, type FrameInput } from './codec.js';
import { WireError } from './wire-error.js';

/** Every frame field but the values; non-finite values are never sent on purpose. */
export type FrameFields = Omit<FrameInput, 'values' | 'allowNonFinite'>;

/**
 * Error feedback (EF-SGD) for lossy delta codecs. One instance per participant and model: `encode` sends
 * quantize(delta + residual) and keeps residual = (delta + residual) − what the hub will decode, so
 * quantization error is delayed to the next round instead of lost, and the sum of decoded deltas stays
 * within one residual (about half an int8 step) of the sum of true deltas. float32 is exact: its residual
 * goes to zero.
 */
export class ErrorFeedback {
  private readonly carried: Float32Array;
  private readonly compensated: Float32Array;

  constructor(readonly length: number) {
    if (!Number.isInteger(length) || length < 0)
      throw new WireError('invalid-input', `error feedback length must be a non-negative integer, got ${length}`);
    this.carried = new Float32Array(length);
    this.compensated = new Float32Array(length);
  }

  /** Encodes delta + residual as one frame and updates the residual; on error the residual is unchanged. */
  encode(delta: Float32Array, fields: FrameFields): Uint8Array {
    if (delta.length !== this.length) {
      throw new WireError('length', `error feedback holds ${this.length} values but the delta has ${delta.length}`);
    }
    const { compensated, carried } = this;
    for (let i = 0; i < delta.length; i++) compensated[i] = delta[i]! + carried[i]!;
    const frame = encodeFrame({ ...fields, values: compensated });
    if (fields.dtype === 'float32') {
      carried.fill(0);
    } else {
      const { values: sent } = decodeFrame(frame);
      for (let i = 0; i < sent.length; i++) carried[i] = compensated[i]! - sent[i]!;
    }
    return frame;
  }

  /** A copy of the error not yet sent. */
  residual(): Float32Array {
    return this.carried.slice();
  }

  /** Forgets the carried error (a new run, or weights replaced outright). */
  reset(): void {
    this.carried.fill(0);
  }
}
