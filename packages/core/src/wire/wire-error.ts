/** Why a frame was refused; the hub puts `message` in its error ack, so each names the numbers involved. */
export type WireErrorCode =
  | 'bad-magic' // not a Tabula frame at all
  | 'version' // unsupported wire layout, or a protocol version other than the expected one
  | 'bad-kind'
  | 'bad-dtype'
  | 'truncated' // header, run id, segment table or payload cut short
  | 'trailing' // bytes after the payload
  | 'bad-run-id' // run id too long or not UTF-8
  | 'segments' // segment lengths do not sum to the element count, or too many segments
  | 'length' // element count differs from the expected one
  | 'too-large' // element count above the caller's maxElements
  | 'mismatch' // kind, run, round or model version differ from the expected ones
  | 'non-finite' // NaN or Infinity in the values or an int8 scale (or a float16 overflow on encode)
  | 'bad-scale' // negative int8 scale
  | 'invalid-input'; // encodeFrame was called with fields the layout cannot carry

export class WireError extends Error {
  override readonly name = 'WireError';

  constructor(
    readonly code: WireErrorCode,
    message: string,
  ) {
    super(message);
  }
}
