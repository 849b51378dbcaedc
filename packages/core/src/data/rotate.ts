/**
 * Image rotation about the image centre, bilinear, zero fill outside the source. Positive degrees turn the image
 * counter-clockwise as displayed (rows run downwards). A rotation is compiled once into a table of 4 source
 * pixels and 4 weights per output pixel, so rotating a participant's 1,000 digits costs a few milliseconds.
 */
export interface Rotation {
  readonly rows: number;
  readonly cols: number;
  readonly degrees: number;
  /**
   * Rotates the image at `source[sourceOffset ..]` into `out[outOffset ..]`, multiplying by `scale`
   * (e.g. 1/255 to read uint8 pixels as floats in [0, 1]).
   */
  apply(source: ArrayLike<number>, sourceOffset: number, out: Float32Array, outOffset: number, scale?: number): void;
}

export function createRotation(rows: number, cols: number, degrees: number): Rotation {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new Error(`image size must be positive integers, got ${rows}x${cols}`);
  }
  if (!Number.isFinite(degrees)) throw new Error(`rotation angle must be finite, got ${degrees}`);
  const [cos, sin] = cosSin(degrees);
  const size = rows * cols;
  const index = new Int32Array(size * 4);
  const weight = new Float32Array(size * 4);
  const cx = (cols - 1) / 2;
  const cy = (rows - 1) / 2;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      // Inverse map: where in the source does this output pixel come from.
      const dx = c - cx;
      const dy = r - cy;
      const sx = cx + dx * cos - dy * sin;
      const sy = cy + dx * sin + dy * cos;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const o = (r * cols + c) * 4;
      const corners: [number, number, number][] = [
        [y0, x0, (1 - fy) * (1 - fx)],
        [y0, x0 + 1, (1 - fy) * fx],
        [y0 + 1, x0, fy * (1 - fx)],
        [y0 + 1, x0 + 1, fy * fx],
      ];
      corners.forEach(([y, x, w], k) => {
        const inside = y >= 0 && y < rows && x >= 0 && x < cols;
        index[o + k] = inside ? y * cols + x : 0;
        weight[o + k] = inside ? w : 0;
      });
    }
  }
  return {
    rows,
    cols,
    degrees,
    apply(source, sourceOffset, out, outOffset, scale = 1) {
      for (let p = 0, o = 0; p < size; p++, o += 4) {
        out[outOffset + p] =
          scale *
          ((weight[o] as number) * (source[sourceOffset + (index[o] as number)] as number) +
            (weight[o + 1] as number) * (source[sourceOffset + (index[o + 1] as number)] as number) +
            (weight[o + 2] as number) * (source[sourceOffset + (index[o + 2] as number)] as number) +
            (weight[o + 3] as number) * (source[sourceOffset + (index[o + 3] as number)] as number));
      }
    },
  };
}

/** Rotates one image (`rows * cols` values) and returns a new Float32Array. */
export function rotateImage(image: ArrayLike<number>, rows: number, cols: number, degrees: number, scale = 1): Float32Array {
  if (image.length < rows * cols) throw new Error(`image has ${image.length} values, expected ${rows * cols} for ${rows}x${cols}`);
  const out = new Float32Array(rows * cols);
  createRotation(rows, cols, degrees).apply(image, 0, out, 0, scale);
  return out;
}

/** Exact values at right angles, so 90° turns are pure pixel permutations rather than blurred resamples. */
function cosSin(degrees: number): [number, number] {
  const turn = ((degrees % 360) + 360) % 360;
  if (turn === 0) return [1, 0];
  if (turn === 90) return [0, 1];
  if (turn === 180) return [-1, 0];
  if (turn === 270) return [0, -1];
  const radians = (turn * Math.PI) / 180;
  return [Math.cos(radians), Math.sin(radians)];
}
