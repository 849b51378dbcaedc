/**
 * The MNIST asset (`packages/core/assets/mnist.bin`, written by `scripts/build-mnist.mjs`), parsed the same way
 * in Node and in the browser. Layout, little-endian:
 *
 *   0  "TBMN"            magic
 *   4  u32 version       1
 *   8  u32 count         number of digits
 *  12  u32 rows          28
 *  16  u32 cols          28
 *  20  count x u8        labels 0..9
 *  ..  count*rows*cols x u8  pixels 0..255, row-major, one image after another
 */
export interface MnistData {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  /** `count` labels in 0..9 (a view into the asset, not a copy). */
  readonly labels: Uint8Array;
  /** `count * rows * cols` grey levels 0..255 (a view into the asset, not a copy). */
  readonly pixels: Uint8Array;
}

export const MNIST_MAGIC = 'TBMN';
export const MNIST_VERSION = 1;
export const MNIST_HEADER_BYTES = 20;
export const MNIST_CLASSES = 10;

/** Parses and validates the asset; throws a specific Error for a wrong magic or version, bad dimensions, or a wrong length. */
export function parseMnistAsset(bytes: Uint8Array | ArrayBuffer): MnistData {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (data.byteLength < MNIST_HEADER_BYTES) {
    throw new Error(`MNIST asset truncated: ${data.byteLength} bytes, the header alone is ${MNIST_HEADER_BYTES}`);
  }
  const magic = String.fromCharCode(data[0] ?? 0, data[1] ?? 0, data[2] ?? 0, data[3] ?? 0);
  if (magic !== MNIST_MAGIC) {
    throw new Error(`not a Tabula MNIST asset: magic ${JSON.stringify(magic)}, expected ${JSON.stringify(MNIST_MAGIC)}`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const version = view.getUint32(4, true);
  if (version !== MNIST_VERSION) {
    throw new Error(`unsupported MNIST asset version ${version}, expected ${MNIST_VERSION}: rebuild it with scripts/build-mnist.mjs`);
  }
  const count = view.getUint32(8, true);
  const rows = view.getUint32(12, true);
  const cols = view.getUint32(16, true);
  if (count === 0 || rows === 0 || cols === 0) {
    throw new Error(`MNIST asset has empty dimensions: count ${count}, rows ${rows}, cols ${cols}`);
  }
  const pixelsStart = MNIST_HEADER_BYTES + count;
  const expected = pixelsStart + count * rows * cols;
  if (data.byteLength < expected) {
    throw new Error(`MNIST asset truncated: ${data.byteLength} bytes, expected ${expected} for ${count} digits of ${rows}x${cols}`);
  }
  if (data.byteLength > expected) {
    throw new Error(`MNIST asset has ${data.byteLength - expected} trailing bytes after ${count} digits of ${rows}x${cols}`);
  }
  const labels = data.subarray(MNIST_HEADER_BYTES, pixelsStart);
  for (let i = 0; i < count; i++) {
    const label = labels[i] ?? 0;
    if (label >= MNIST_CLASSES) throw new Error(`MNIST asset: label ${label} of digit ${i} is outside 0..${MNIST_CLASSES - 1}`);
  }
  return { count, rows, cols, labels, pixels: data.subarray(pixelsStart, expected) };
}
