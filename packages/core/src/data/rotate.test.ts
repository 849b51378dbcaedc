import { describe, expect, it } from 'vitest';
import { loadMnist } from './mnist-node.js';
import { createRotation, rotateImage } from './rotate.js';

const mnist = loadMnist();
const digit = (i: number): Float32Array => Float32Array.from(mnist.pixels.subarray(i * 784, (i + 1) * 784), (v) => v / 255);
const sum = (image: ArrayLike<number>): number => {
  let total = 0;
  for (let i = 0; i < image.length; i++) total += image[i] as number;
  return total;
};
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
  return d;
};

describe('rotateImage', () => {
  it('leaves the image unchanged at 0° and 360°', () => {
    const image = digit(123);
    expect(rotateImage(image, 28, 28, 0)).toEqual(image);
    expect(rotateImage(image, 28, 28, 360)).toEqual(image);
  });

  it('turns counter-clockwise as displayed: the right edge comes to the top at 90°', () => {
    // Prepare: 3x3 with a single lit pixel at the middle of the right column
    const image = new Float32Array(9);
    image[1 * 3 + 2] = 1;
    // Execute
    const turned = rotateImage(image, 3, 3, 90);
    // Assert: now at the middle of the top row
    expect([...turned]).toEqual([0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect([...rotateImage(image, 3, 3, -90)]).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 0]);
  });

  it('makes right angles exact pixel permutations: four quarter turns give the original back', () => {
    const image = digit(4567);
    let turned = image;
    for (let k = 0; k < 4; k++) {
      turned = rotateImage(turned, 28, 28, 90);
      if (k < 3) expect(maxDiff(turned, image)).toBeGreaterThan(0.5);
      expect(sum(turned)).toBeCloseTo(sum(image), 3);
    }
    expect(turned).toEqual(image);
  });

  it.each([30, 45, 135, 200])('changes a digit at %i° yet keeps its ink roughly', (degrees) => {
    for (const i of [0, 2500, 9999]) {
      const image = digit(i);
      const turned = rotateImage(image, 28, 28, degrees);
      expect(maxDiff(turned, image)).toBeGreaterThan(0.3);
      expect(Math.abs(sum(turned) - sum(image)) / sum(image)).toBeLessThan(0.1);
      for (const v of turned) expect(v >= 0 && v <= 1 + 1e-6).toBe(true);
    }
  });

  it('is undone, up to interpolation blur, by the opposite angle', () => {
    const image = digit(777);
    const back = rotateImage(rotateImage(image, 28, 28, 37), 28, 28, -37);
    let dot = 0;
    let a = 0;
    let b = 0;
    for (let i = 0; i < image.length; i++) {
      dot += (image[i] as number) * (back[i] as number);
      a += (image[i] as number) ** 2;
      b += (back[i] as number) ** 2;
    }
    expect(dot / Math.sqrt(a * b)).toBeGreaterThan(0.9);
  });

  it('fills with zeros what comes from outside the source', () => {
    const ones = new Float32Array(28 * 28).fill(1);
    const turned = rotateImage(ones, 28, 28, 45);
    expect(turned[0]).toBe(0); // a corner maps outside the source square
    expect(turned[14 * 28 + 14]).toBeCloseTo(1, 6);
  });
});

describe('createRotation', () => {
  it('reads at an offset, writes at an offset and scales (uint8 -> [0, 1])', () => {
    const rotation = createRotation(28, 28, 90);
    const out = new Float32Array(2 * 784);
    rotation.apply(mnist.pixels, 42 * 784, out, 784, 1 / 255);
    expect(out.subarray(0, 784).every((v) => v === 0)).toBe(true);
    expect(maxDiff(out.subarray(784), rotateImage(digit(42), 28, 28, 90))).toBeLessThan(1e-6);
  });

  it('rejects bad sizes and angles', () => {
    expect(() => createRotation(0, 28, 10)).toThrow(/positive integers/);
    expect(() => createRotation(28, 28, Number.NaN)).toThrow(/finite/);
  });
});
