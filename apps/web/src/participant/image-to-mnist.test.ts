import { describe, expect, it } from 'vitest';
import { resizeArea, toMnistPixels, type RgbaImage } from './image-to-mnist.js';

/** A width x height RGBA picture of one colour with a filled rectangle of another. */
function picture(
  width: number,
  height: number,
  paper: number,
  ink: number,
  rect: { x: number; y: number; w: number; h: number },
): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = x >= rect.x && x < rect.x + rect.w && y >= rect.y && y < rect.y + rect.h;
      const v = inside ? ink : paper;
      data.set([v, v, v, 255], (y * width + x) * 4);
    }
  }
  return { width, height, data };
}

function centreOfMass(pixels: Uint8Array): [number, number] {
  let mass = 0;
  let cx = 0;
  let cy = 0;
  pixels.forEach((v, i) => {
    mass += v;
    cx += v * ((i % 28) + 0.5);
    cy += v * (Math.floor(i / 28) + 0.5);
  });
  return [cx / mass, cy / mass];
}

describe('toMnistPixels', () => {
  it('inverts dark ink on white paper, fits it into 20 pixels and centres it', () => {
    // Prepare: a tall black bar in the top-left corner of a white 280x280 canvas
    const image = picture(280, 280, 255, 0, { x: 10, y: 10, w: 40, h: 160 });
    // Execute
    const pixels = toMnistPixels(image);
    // Assert
    expect(pixels).not.toBeNull();
    const out = pixels as Uint8Array;
    expect(out.length).toBe(784);
    expect(Math.max(...out)).toBe(255);
    expect(out[0]).toBe(0); // background is dark
    const rows = new Set<number>();
    out.forEach((v, i) => v > 0 && rows.add(Math.floor(i / 28)));
    expect(rows.size).toBe(20); // the long side fills the 20-pixel box
    const [cx, cy] = centreOfMass(out);
    expect(Math.abs(cx - 14)).toBeLessThanOrEqual(1);
    expect(Math.abs(cy - 14)).toBeLessThanOrEqual(1);
  });

  it('keeps bright ink on a dark background as it is', () => {
    const image = picture(56, 56, 0, 255, { x: 20, y: 10, w: 16, h: 36 });
    const out = toMnistPixels(image) as Uint8Array;
    expect(out[0]).toBe(0);
    expect(out[14 * 28 + 14]).toBe(255);
  });

  it('treats transparent pixels as paper', () => {
    const image = picture(40, 40, 0, 0, { x: 15, y: 5, w: 10, h: 30 });
    // paper: fully transparent; ink: opaque black
    for (let i = 0; i < 40 * 40; i++) {
      const x = i % 40;
      const y = Math.floor(i / 40);
      const inside = x >= 15 && x < 25 && y >= 5 && y < 35;
      image.data[4 * i + 3] = inside ? 255 : 0;
    }
    const out = toMnistPixels(image) as Uint8Array;
    expect(out[0]).toBe(0);
    expect(out[14 * 28 + 14]).toBe(255);
  });

  it('returns null for a blank picture', () => {
    expect(toMnistPixels(picture(28, 28, 255, 255, { x: 0, y: 0, w: 0, h: 0 }))).toBeNull();
  });
});

describe('resizeArea', () => {
  it('averages the covered source area', () => {
    const src = Float32Array.from([1, 0, 0, 1]); // 2x2 diagonal
    expect(Array.from(resizeArea(src, 2, 2, 1, 1))).toEqual([0.5]);
    const wide = Float32Array.from([1, 1, 0, 0, 0, 0]); // 3x2 -> 1x1
    expect(resizeArea(wide, 3, 2, 1, 1)[0]).toBeCloseTo(1 / 3, 6);
  });
});
