import { describe, expect, it } from 'vitest';
import { createRng } from '../rng.js';
import { decodeFloat16, encodeFloat16, float16BitsToFloat32, float32ToFloat16Bits } from './float16.js';

describe('float16 conversion', () => {
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [0, 0x0000],
    [-0, 0x8000],
    [65504, 0x7bff], // largest finite half
    [65519, 0x7bff], // just below the midpoint to 65536
    [65520, 0x7c00], // the midpoint ties to even: Infinity
    [1e6, 0x7c00],
    [-1e6, 0xfc00],
    [Infinity, 0x7c00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie between 0 and 2^-24: even is 0
    [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal steps: even is 2
    [5 * 2 ** -25, 0x0002], // tie between 2 and 3: even is 2
    [2 ** -14 - 2 ** -25, 0x0400], // largest subnormal rounds up into the smallest normal
    [1 + 2 ** -11, 0x3c00], // tie between mantissas 0 and 1: even is 0
    [1 + 3 * 2 ** -11, 0x3c02], // tie between mantissas 1 and 2: even is 2
    [1e-9, 0x0000],
  ])('encodes %s as 0x%s', (value, bits) => {
    expect(float32ToFloat16Bits(value).toString(16)).toBe(bits.toString(16));
  });

  it('keeps NaN a NaN', () => {
    expect(float32ToFloat16Bits(NaN)).toBe(0x7e00);
    expect(float16BitsToFloat32(0x7e00)).toBeNaN();
  });

  it.each([
    [0x3c00, 1],
    [0x7bff, 65504],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x2e66, 0.0999755859375],
    [0xfc00, -Infinity],
  ])('decodes 0x%s as %s', (bits, value) => {
    expect(float16BitsToFloat32(bits)).toBe(value);
  });

  it('decodes -0 with its sign', () => {
    expect(Object.is(float16BitsToFloat32(0x8000), -0)).toBe(true);
  });

  it('round-trips every one of the 65536 half bit patterns except NaN payloads', () => {
    // Prepare
    let checked = 0;

    // Execute / Assert
    for (let h = 0; h < 0x10000; h++) {
      const value = float16BitsToFloat32(h);
      if (Number.isNaN(value)) continue;
      if (float32ToFloat16Bits(value) !== h)
        throw new Error(`0x${h.toString(16)} -> ${value} -> 0x${float32ToFloat16Bits(value).toString(16)}`);
      checked++;
    }
    expect(checked).toBe(65536 - 2 * 1023);
  });

  it('picks the nearest half for random floats of every magnitude', () => {
    // Prepare
    const rng = createRng(3);
    const values = Float32Array.from({ length: 20_000 }, () => (rng.next() - 0.5) * 2 ** (rng.int(48) - 30));
    const bits = new Uint16Array(values.length);

    // Execute
    const overflow = encodeFloat16(values, bits);

    // Assert: no neighbouring half is closer than the chosen one
    expect(overflow).toBe(-1);
    const worse: string[] = [];
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      const h = bits[i]!;
      const err = Math.abs(float16BitsToFloat32(h) - v);
      const magnitude = h & 0x7fff;
      const sign = h & 0x8000;
      const below = magnitude > 0 ? Math.abs(float16BitsToFloat32(sign | (magnitude - 1)) - v) : Infinity;
      const above = magnitude < 0x7bff ? Math.abs(float16BitsToFloat32(sign | (magnitude + 1)) - v) : Infinity;
      if (err > below || err > above || float32ToFloat16Bits(v) !== h) worse.push(`${v} -> 0x${h.toString(16)}`);
    }
    expect(worse).toEqual([]);
  });

  it('reports the first finite value that overflows, not an Infinity that was already there', () => {
    // Prepare
    const values = new Float32Array([1, Infinity, 2, 70000, 80000]);
    const bits = new Uint16Array(5);

    // Execute
    const overflow = encodeFloat16(values, bits);
    const back = new Float32Array(5);
    decodeFloat16(bits, back);

    // Assert
    expect(overflow).toBe(3);
    expect(Array.from(back)).toEqual([1, Infinity, 2, Infinity, Infinity]);
  });
});
