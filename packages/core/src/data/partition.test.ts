import { describe, expect, it } from 'vitest';
import { loadMnist } from './mnist-node.js';
import { labelCounts, partition, partitionDirichlet, partitionIid, partitionShards, type PartitionOptions } from './partition.js';

const labels = loadMnist().labels;
const COUNT = labels.length;

type Partitioner = (seed: number, participants: number, options?: PartitionOptions) => number[][];
const partitioners: Record<string, Partitioner> = {
  iid: (seed, n, options) => partitionIid(labels, n, seed, options),
  shards: (seed, n, options) => partitionShards(labels, n, seed, options),
  dirichlet: (seed, n, options) => partitionDirichlet(labels, n, seed, 0.5, options),
};

function distinctLabels(indices: readonly number[]): number {
  return labelCounts(labels, indices, 10).filter((c) => c > 0).length;
}

/** Mean share of a participant's most frequent label. */
function topLabelShare(parts: number[][]): number {
  return parts.reduce((sum, p) => sum + Math.max(...labelCounts(labels, p, 10)) / p.length, 0) / parts.length;
}

describe.each(Object.entries(partitioners))('%s partition', (_name, split) => {
  it('is deterministic for a seed and differs for another', () => {
    const a = split(42, 10);
    const b = split(42, 10);
    const c = split(43, 10);
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
  });

  it.each([10, 50, 200])('gives %i participants disjoint, non-empty sets of valid indices', (n) => {
    const parts = split(7, n);
    expect(parts.length).toBe(n);
    const seen = new Set<number>();
    for (const part of parts) {
      expect(part.length).toBeGreaterThan(0);
      for (const index of part) {
        expect(Number.isInteger(index) && index >= 0 && index < COUNT).toBe(true);
        expect(seen.has(index)).toBe(false);
        seen.add(index);
      }
    }
  });

  it('holds about count / N examples each, and perParticipant when asked', () => {
    const sizes = split(3, 200).map((p) => p.length);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(45);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(50);
    const small = split(3, 20, { perParticipant: 30 }).map((p) => p.length);
    expect(Math.min(...small)).toBeGreaterThanOrEqual(29);
    expect(Math.max(...small)).toBeLessThanOrEqual(30);
  });

  it('reuses examples across, never within, participants when N * size exceeds the data', () => {
    // 5,000 participants x at least 3 digits = 15,000 > 10,000
    const parts = split(11, 5000, { minPerParticipant: 3 });
    const used = new Set<number>();
    for (const part of parts) {
      expect(part.length).toBe(3);
      expect(new Set(part).size).toBe(part.length);
      for (const index of part) used.add(index);
    }
    expect(used.size).toBeGreaterThan(COUNT * 0.9);
  });
});

describe('partitionIid', () => {
  it('gives every participant a near-global label mix', () => {
    expect(topLabelShare(partitionIid(labels, 10, 1))).toBeLessThan(0.15);
  });
});

describe('partitionShards', () => {
  it.each([3, 10, 37, 100, 200])('gives each of %i participants at most 2 labels', (n) => {
    const parts = partitionShards(labels, n, 5);
    for (const part of parts) expect(distinctLabels(part)).toBeLessThanOrEqual(2);
    // and not everyone the same single label: shards spread the labels around
    expect(new Set(parts.map((p) => labelCounts(labels, p, 10).indexOf(Math.max(...labelCounts(labels, p, 10))))).size).toBeGreaterThan(1);
  });

  it('honours shardsPerParticipant', () => {
    const parts = partitionShards(labels, 20, 5, { shardsPerParticipant: 3 });
    expect(Math.max(...parts.map(distinctLabels))).toBe(3);
  });

  it('uses nearly all digits when N divides the data', () => {
    expect(partitionShards(labels, 10, 5).flat().length).toBeGreaterThan(COUNT * 0.95);
  });
});

describe('partitionDirichlet', () => {
  it('is skewed for small alpha and near-uniform for large alpha', () => {
    const skewed = topLabelShare(partitionDirichlet(labels, 20, 9, 0.1));
    const mild = topLabelShare(partitionDirichlet(labels, 20, 9, 1));
    const uniform = topLabelShare(partitionDirichlet(labels, 20, 9, 100));
    expect(skewed).toBeGreaterThan(0.5);
    expect(mild).toBeLessThan(skewed);
    expect(uniform).toBeLessThan(mild);
    expect(uniform).toBeLessThan(0.2);
  });

  it('keeps the skew when every digit is used (demand balanced against label supply)', () => {
    // Unbalanced draws wash out to ~0.55 here as popular labels run dry; raw Dir(0.05) draws give ~0.78.
    const shares = [1, 2, 3, 4].map((seed) => topLabelShare(partitionDirichlet(labels, 10, seed, 0.05)));
    expect(shares.reduce((a, b) => a + b) / shares.length).toBeGreaterThan(0.63);
  });

  it('gives balanced sizes', () => {
    const sizes = partitionDirichlet(labels, 30, 2, 0.1).map((p) => p.length);
    expect(new Set(sizes)).toEqual(new Set([Math.floor(COUNT / 30)]));
  });

  it('rejects a non-positive alpha', () => {
    expect(() => partitionDirichlet(labels, 10, 1, 0)).toThrow(/alpha must be a positive number/);
  });
});

describe('partition', () => {
  it('dispatches on the scheme', () => {
    expect(partition(labels, 10, { kind: 'iid' }, 4)).toEqual(partitionIid(labels, 10, 4));
    expect(partition(labels, 10, { kind: 'shards' }, 4)).toEqual(partitionShards(labels, 10, 4));
    expect(partition(labels, 10, { kind: 'dirichlet', alpha: 0.3 }, 4)).toEqual(partitionDirichlet(labels, 10, 4, 0.3));
  });

  it('validates its arguments', () => {
    expect(() => partitionIid(labels, 0, 1)).toThrow(/participants must be a positive integer/);
    expect(() => partitionIid([], 2, 1)).toThrow(/empty dataset/);
    expect(() => partitionIid(labels, 2, 1, { perParticipant: 0 })).toThrow(/perParticipant must be a positive integer/);
    expect(() => partitionShards([0, 1, 2.5], 1, 1)).toThrow(/label 2.5 of example 2/);
  });
});
