/**
 * Any picture of a digit -> a 28x28 MNIST-style image: grey levels with bright ink on a dark background, the
 * digit scaled to fit a 20x20 box and centred by its centre of mass (how MNIST itself was made). Pure, so
 * the drawing pad, uploads and the tests share one code path.
 */
export const MNIST_SIDE = 28;
const BOX = 20;
/** Ink below this share of full intensity does not count when finding the digit's bounding box. */
const INK_THRESHOLD = 0.1;

/** The layout of canvas ImageData: RGBA rows. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray | Uint8Array;
}

/** 784 grey levels 0..255 (ink = 255), or null when the picture holds no visible ink. */
export function toMnistPixels(image: RgbaImage): Uint8Array | null {
  const { width, height } = image;
  if (width < 1 || height < 1 || image.data.length < width * height * 4) throw new Error(`not an RGBA image of ${width}x${height}`);
  const ink = inkLevels(image);
  const box = boundingBox(ink, width, height);
  if (!box) return null;

  // Fit the longest side of the digit's box into 20 pixels, keeping its aspect ratio.
  const scale = BOX / Math.max(box.w, box.h);
  const dw = Math.max(1, Math.round(box.w * scale));
  const dh = Math.max(1, Math.round(box.h * scale));
  const cropped = new Float32Array(box.w * box.h);
  for (let y = 0; y < box.h; y++) cropped.set(ink.subarray((box.y + y) * width + box.x, (box.y + y) * width + box.x + box.w), y * box.w);
  const small = resizeArea(cropped, box.w, box.h, dw, dh);

  // Centre of mass to the middle of the 28x28 field, clamped so the digit stays whole.
  let mass = 0;
  let cx = 0;
  let cy = 0;
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      const v = small[y * dw + x] as number;
      mass += v;
      cx += v * (x + 0.5);
      cy += v * (y + 0.5);
    }
  }
  const left = clamp(Math.round(MNIST_SIDE / 2 - (mass > 0 ? cx / mass : dw / 2)), 0, MNIST_SIDE - dw);
  const top = clamp(Math.round(MNIST_SIDE / 2 - (mass > 0 ? cy / mass : dh / 2)), 0, MNIST_SIDE - dh);
  const out = new Uint8Array(MNIST_SIDE * MNIST_SIDE);
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) out[(top + y) * MNIST_SIDE + left + x] = Math.round(clamp(small[y * dw + x] as number, 0, 1) * 255);
  }
  return out;
}

/**
 * Ink per pixel in [0, 1]: grey level (transparent counts as white paper), inverted when the background is
 * light, with the background level subtracted and the strongest ink stretched to 1 (photos, pencil).
 */
export function inkLevels(image: RgbaImage): Float32Array {
  const { width, height, data } = image;
  const grey = new Float32Array(width * height);
  for (let i = 0; i < width * height; i++) {
    const r = data[4 * i] as number;
    const g = data[4 * i + 1] as number;
    const b = data[4 * i + 2] as number;
    const a = (data[4 * i + 3] as number) / 255;
    const luminance = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
    grey[i] = luminance * a + (1 - a);
  }
  const background = borderMean(grey, width, height);
  const invert = background > 0.5;
  const paper = invert ? 1 - background : background;
  const ink = new Float32Array(width * height);
  let max = 0;
  for (let i = 0; i < ink.length; i++) {
    const v = Math.max(0, (invert ? 1 - (grey[i] as number) : (grey[i] as number)) - paper);
    ink[i] = v;
    if (v > max) max = v;
  }
  if (max > 0) for (let i = 0; i < ink.length; i++) ink[i] = (ink[i] as number) / max;
  return ink;
}

function borderMean(grey: Float32Array, width: number, height: number): number {
  let sum = 0;
  let n = 0;
  for (let x = 0; x < width; x++) {
    sum += (grey[x] as number) + (grey[(height - 1) * width + x] as number);
    n += 2;
  }
  for (let y = 1; y < height - 1; y++) {
    sum += (grey[y * width] as number) + (grey[y * width + width - 1] as number);
    n += 2;
  }
  return n > 0 ? sum / n : 0;
}

function boundingBox(ink: Float32Array, width: number, height: number): { x: number; y: number; w: number; h: number } | null {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if ((ink[y * width + x] as number) < INK_THRESHOLD) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

/** Area-averaging resize of a one-channel image (each target pixel is the mean of the source area it covers). */
export function resizeArea(src: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  const horizontal = new Float32Array(dw * sh);
  for (let y = 0; y < sh; y++) resample1d(src, y * sw, 1, sw, horizontal, y * dw, 1, dw);
  const out = new Float32Array(dw * dh);
  for (let x = 0; x < dw; x++) resample1d(horizontal, x, dw, sh, out, x, dw, dh);
  return out;
}

function resample1d(
  src: Float32Array,
  srcStart: number,
  srcStride: number,
  n: number,
  dst: Float32Array,
  dstStart: number,
  dstStride: number,
  m: number,
): void {
  const ratio = n / m;
  for (let j = 0; j < m; j++) {
    const from = j * ratio;
    const to = from + ratio;
    let sum = 0;
    for (let i = Math.floor(from); i < Math.min(n, Math.ceil(to)); i++) {
      const cover = Math.min(to, i + 1) - Math.max(from, i);
      if (cover > 0) sum += (src[srcStart + i * srcStride] as number) * cover;
    }
    dst[dstStart + j * dstStride] = sum / ratio;
  }
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
