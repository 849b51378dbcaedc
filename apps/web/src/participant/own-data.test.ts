import { describe, expect, it } from 'vitest';
import { MIN_OWN_EXAMPLES, splitOwnData, summarizeOwnData, type OwnDigit } from './own-data.js';

function digits(labels: readonly number[]): OwnDigit[] {
  return labels.map((label, i) => ({ id: `d${i}`, label, pixels: new Uint8Array(784).fill(i % 256), createdAt: 1000 + i }));
}

describe('splitOwnData', () => {
  it('cycles each label through support, query, support, test', () => {
    // Prepare: eight 3s and four 7s
    const set = digits([3, 3, 3, 3, 3, 3, 3, 3, 7, 7, 7, 7]);
    // Execute
    const split = splitOwnData(set);
    // Assert
    expect(split).not.toBeNull();
    expect([split!.support.count, split!.query.count, split!.test.count]).toEqual([6, 3, 3]);
    expect(Array.from(split!.test.y)).toEqual([3, 3, 7]);
    expect(split!.support.x.length).toBe(6 * 784);
  });

  it('is deterministic and independent of the input order', () => {
    const set = digits([1, 2, 3, 1, 2, 3, 1, 2, 3, 4, 5]);
    const a = splitOwnData(set)!;
    const b = splitOwnData([...set].reverse())!;
    expect(Array.from(a.test.y)).toEqual(Array.from(b.test.y));
    expect(a.support.x).toEqual(b.support.x);
  });

  it('adding a digit moves no older digit to another split', () => {
    const set = digits([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
    const before = splitOwnData(set)!;
    const after = splitOwnData([...set, ...digits([5]).map((d) => ({ ...d, id: 'new', createdAt: 99_999 }))])!;
    expect(Array.from(after.test.y)).toEqual(Array.from(before.test.y));
    expect(Array.from(after.query.y)).toEqual(Array.from(before.query.y));
  });

  it('fills query and test from support for tiny sets, and refuses fewer than three', () => {
    const split = splitOwnData(digits([4, 5, 6]))!;
    expect([split.support.count, split.query.count, split.test.count]).toEqual([1, 1, 1]);
    expect(splitOwnData(digits([1, 2]))).toBeNull();
  });

  it('scales pixels to [0, 1] and keeps labels as floats', () => {
    const [d] = digits([9]);
    const split = splitOwnData([d!, { ...d!, id: 'b', createdAt: 2 }, { ...d!, id: 'c', createdAt: 3 }])!;
    expect(split.support.x[0]).toBe(0);
    expect(split.support.y[0]).toBe(9);
  });
});

describe('summarizeOwnData', () => {
  it('counts per label and says when the set is too small', () => {
    const small = summarizeOwnData(digits([1, 1, 2]));
    expect(small.counts).toEqual([0, 2, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(small.trainable).toBe(false);
    expect(small.message).toMatch(/too few to train/);
    const enough = summarizeOwnData(digits(Array.from({ length: MIN_OWN_EXAMPLES }, (_, i) => i % 10)));
    expect(enough.trainable).toBe(true);
  });
});
