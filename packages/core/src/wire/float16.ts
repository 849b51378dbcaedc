/**
 * IEEE 754 half precision by hand: Node 20 has no Float16Array. Encoding rounds to nearest, ties to even,
 * keeps subnormals, and turns values beyond the largest half (65504, or 65520 and up after rounding) into
 * Infinity; NaN stays NaN.
 */

export const FLOAT16_MAX = 65504;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The half-precision bit pattern nearest to `value` (after rounding `value` to float32). */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  return bitsToHalf(u32[0]!);
}

/** The float32 bits of one value -> its float16 bits. */
function bitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 | (mantissa >>> 13) : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Below 2^-25 even the smallest subnormal is more than twice as far as zero.
    if (e < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    if (rest > midpoint || (rest === midpoint && (half & 1) === 1)) half++;
    return sign | half; // a carry into 0x400 is the smallest normal, as it should be
  }
  let h = sign | (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // a carry may reach 0x7c00: Infinity
  return h;
}

export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa !== 0 ? NaN : sign * Infinity;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/**
 * Converts `values` into `out` (same length). Returns the index of the first finite value that overflowed
 * to Infinity, or -1; the caller decides whether that is an error.
 */
export function encodeFloat16(values: Float32Array, out: Uint16Array): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let firstOverflow = -1;
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]!;
    const h = bitsToHalf(x);
    out[i] = h;
    if (firstOverflow < 0 && (h & 0x7fff) === 0x7c00 && (x & 0x7f800000) !== 0x7f800000) firstOverflow = i;
  }
  return firstOverflow;
}

let table: Float32Array | null = null;

/** Converts half bits to floats through a 65536-entry table (256 KiB, built on first use). */
export function decodeFloat16(bits: Uint16Array, out: Float32Array): void {
  if (table === null) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = float16BitsToFloat32(h);
  }
  const t = table;
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]!]!;
}
