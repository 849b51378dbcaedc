import { describe, expect, it } from 'vitest';
import { MNIST_HEADER_BYTES, parseMnistAsset } from './mnist.js';
import { DEFAULT_MNIST_PATH, loadMnist } from './mnist-node.js';

/** A well-formed asset of `labels.length` digits of rows x cols, pixel value = digit * 10 + pixel position. */
function craft(
  labels: number[],
  rows = 2,
  cols = 3,
  options: { magic?: string; version?: number; extra?: number; cut?: number } = {},
): Uint8Array {
  const count = labels.length;
  const total = MNIST_HEADER_BYTES + count + count * rows * cols + (options.extra ?? 0) - (options.cut ?? 0);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  const magic = options.magic ?? 'TBMN';
  for (let i = 0; i < 4; i++) bytes[i] = magic.charCodeAt(i);
  view.setUint32(4, options.version ?? 1, true);
  view.setUint32(8, count, true);
  view.setUint32(12, rows, true);
  view.setUint32(16, cols, true);
  labels.forEach((label, i) => {
    if (MNIST_HEADER_BYTES + i < total) bytes[MNIST_HEADER_BYTES + i] = label;
  });
  for (let i = 0; i < count * rows * cols; i++) {
    const at = MNIST_HEADER_BYTES + count + i;
    if (at < total) bytes[at] = (Math.floor(i / (rows * cols)) * 10 + (i % (rows * cols))) & 0xff;
  }
  return bytes;
}

describe('parseMnistAsset', () => {
  it('reads header, labels and pixels as views into the input', () => {
    // Prepare: the asset sits at an offset inside a larger buffer, as a Node Buffer or a slice would
    const asset = craft([7, 0, 9]);
    const outer = new Uint8Array(asset.length + 8);
    outer.set(asset, 5);
    const bytes = outer.subarray(5, 5 + asset.length);
    // Execute
    const mnist = parseMnistAsset(bytes);
    // Assert
    expect(mnist.count).toBe(3);
    expect(mnist.rows).toBe(2);
    expect(mnist.cols).toBe(3);
    expect([...mnist.labels]).toEqual([7, 0, 9]);
    expect(mnist.pixels.length).toBe(18);
    expect([...mnist.pixels.subarray(6, 12)]).toEqual([10, 11, 12, 13, 14, 15]);
    expect(mnist.labels.buffer).toBe(outer.buffer);
    expect(mnist.pixels.buffer).toBe(outer.buffer);
  });

  it('accepts an ArrayBuffer', () => {
    const asset = craft([1, 2]);
    const mnist = parseMnistAsset(asset.buffer as ArrayBuffer);
    expect([...mnist.labels]).toEqual([1, 2]);
    expect(mnist.pixels.buffer).toBe(asset.buffer);
  });

  it('rejects a buffer shorter than the header', () => {
    expect(() => parseMnistAsset(new Uint8Array(10))).toThrow(/truncated: 10 bytes, the header alone is 20/);
  });

  it('rejects a wrong magic', () => {
    expect(() => parseMnistAsset(craft([1], 2, 3, { magic: 'PNG!' }))).toThrow(/not a Tabula MNIST asset: magic "PNG!"/);
  });

  it('rejects another version', () => {
    expect(() => parseMnistAsset(craft([1], 2, 3, { version: 2 }))).toThrow(/unsupported MNIST asset version 2, expected 1/);
  });

  it('rejects empty dimensions', () => {
    expect(() => parseMnistAsset(craft([], 2, 3))).toThrow(/empty dimensions: count 0/);
    expect(() => parseMnistAsset(craft([1], 0, 3))).toThrow(/rows 0/);
  });

  it('rejects a truncated body', () => {
    expect(() => parseMnistAsset(craft([1, 2], 2, 3, { cut: 1 }))).toThrow(/truncated: 33 bytes, expected 34 for 2 digits of 2x3/);
  });

  it('rejects trailing bytes', () => {
    expect(() => parseMnistAsset(craft([1, 2], 2, 3, { extra: 4 }))).toThrow(/4 trailing bytes/);
  });

  it('rejects a label outside 0..9', () => {
    expect(() => parseMnistAsset(craft([3, 12]))).toThrow(/label 12 of digit 1 is outside 0..9/);
  });
});

describe('loadMnist (the real asset)', () => {
  it('holds 10,000 28x28 digits of all ten labels, grouped by label, with 0..255 pixels', () => {
    const mnist = loadMnist();
    expect(mnist.count).toBe(10_000);
    expect(mnist.rows).toBe(28);
    expect(mnist.cols).toBe(28);
    expect(mnist.labels.length).toBe(10_000);
    expect(mnist.pixels.length).toBe(10_000 * 784);
    const perLabel = new Array<number>(10).fill(0);
    for (const label of mnist.labels) perLabel[label] = (perLabel[label] ?? 0) + 1;
    for (const n of perLabel) expect(n).toBeGreaterThan(800);
    // Grouped by label: labels never decrease along the file
    expect(mnist.labels.every((label, i) => i === 0 || label >= (mnist.labels[i - 1] as number))).toBe(true);
    let min = 255;
    let max = 0;
    let sum = 0;
    for (const p of mnist.pixels) {
      min = Math.min(min, p);
      max = Math.max(max, p);
      sum += p;
    }
    expect(min).toBe(0);
    expect(max).toBe(255);
    // MNIST digits cover roughly 13% ink (mean intensity ~0.13)
    const mean = sum / mnist.pixels.length / 255;
    expect(mean).toBeGreaterThan(0.08);
    expect(mean).toBeLessThan(0.2);
  });

  it('caches per path', () => {
    expect(loadMnist()).toBe(loadMnist(DEFAULT_MNIST_PATH));
  });

  it('says how to build a missing asset', () => {
    expect(() => loadMnist('/nonexistent/mnist.bin')).toThrow(
      /not found at \/nonexistent\/mnist.bin: build it with `node packages\/core\/scripts\/build-mnist.mjs`/,
    );
  });
});
