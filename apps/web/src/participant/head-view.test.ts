import { MNIST_MLP, SINUSOID_MLP } from '@tabula/core';
import { describe, expect, it } from 'vitest';
import { headSourceText, headSplit, headSplitText, headStorageText, newHeadSource } from './head-view.js';

describe('what the tab says about its personal head', () => {
  it('names the shared body and the kept head with their parameter counts under fedrep and fedper', () => {
    // Execute
    const sinusoid = headSplit(SINUSOID_MLP, 'fedrep');
    const twoLayers = headSplit({ ...MNIST_MLP, hidden: [100, 50], head: 2 }, 'fedper');
    // Assert: 1-40-40-1 keeps 40·1 + 1 = 41; 784-100-50-10 keeps 100·50 + 50 + 50·10 + 10 = 5,560 of 84,060.
    expect(headSplitText(sinusoid!)).toBe(
      'Shared with the hub: body, 1,720 of 1,761 parameters · kept in this tab: head, 41 parameters (last 1 layer)',
    );
    expect(headSplitText(twoLayers!)).toBe(
      'Shared with the hub: body, 78,500 of 84,060 parameters · kept in this tab: head, 5,560 parameters (last 2 layers)',
    );
  });

  it('says nothing for algorithms that share the whole model', () => {
    expect(headSplit(SINUSOID_MLP, 'fedavg')).toBeNull();
    expect(headSplit(SINUSOID_MLP, 'meta-sgd')).toBeNull();
  });

  it('says which head a round starts from and where heads are kept', () => {
    expect(headSourceText('own', 'run-1')).toBe("this tab's own head for run run-1, kept from an earlier round");
    expect(headSourceText('fresh', 'run-1')).toBe('a fresh head (this tab has none for run run-1 yet)');
    expect(headSourceText('imprinted', 'run-1')).toMatch(/^a new head imprinted from this tab's support set/);
    // Without a head of its own, a classifier imprints one from its support set; a regressor starts from zero.
    expect(newHeadSource('classification')).toBe('imprinted');
    expect(newHeadSource('regression')).toBe('fresh');
    expect(headStorageText({ kind: 'memory', reason: 'blocked' })).toMatch(
      /^Heads are kept in memory only \(IndexedDB unavailable: blocked\)/,
    );
    expect(headStorageText({ kind: 'indexeddb' })).toMatch(/IndexedDB.*a reload keeps them/);
  });
});
