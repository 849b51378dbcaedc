import { describe, expect, it } from 'vitest';
import { epsilonSeries, guaranteeText, secureStagesText } from './privacy-text.js';

describe('guaranteeText', () => {
  it('says the guarantee as (ε, δ) after the rounds so far, with the budget', () => {
    expect(guaranteeText({ epsilon: 1.2345, delta: 1e-5, rounds: 12, epsilonBudget: 2 })).toBe(
      '(ε = 1.23, δ = 1e-5) after 12 rounds, budget 2',
    );
    expect(guaranteeText({ epsilon: 0.0042, delta: 0.001, rounds: 1, epsilonBudget: null })).toBe(
      '(ε = 0.004, δ = 0.001) after 1 round, no budget',
    );
    expect(guaranteeText({ epsilon: 0, delta: 2.5e-6, rounds: 0, epsilonBudget: 0.5 })).toBe(
      '(ε = 0, δ = 2.5e-6) after 0 rounds, budget 0.5',
    );
  });
});

describe('epsilonSeries', () => {
  it('gives ε per round and the budget beside each point', () => {
    const rounds = [
      { round: 1, privacy: { epsilon: 0.5, delta: 1e-5, order: 12, samplingRate: 1 } },
      { round: 2, privacy: { epsilon: 0.8, delta: 1e-5, order: 10, samplingRate: 1 } },
      { round: 3 },
    ];
    expect(epsilonSeries(rounds, 2)).toEqual({ x: [1, 2, 3], epsilon: [0.5, 0.8, null], budget: [2, 2, 2] });
    expect(epsilonSeries(rounds, null).budget).toEqual([null, null, null]);
  });
});

describe('secureStagesText', () => {
  it('says who answered each stage of those asked, the threshold, the graph and any clipping', () => {
    const stages = [
      { stage: 'advertise' as const, asked: 6, answered: 6 },
      { stage: 'share' as const, asked: 6, answered: 6 },
      { stage: 'mask' as const, asked: 6, answered: 5 },
      { stage: 'unmask' as const, asked: 5, answered: 5 },
    ];
    expect(secureStagesText({ stages, threshold: 4, neighbours: null, clampedShare: 0 })).toBe(
      'advertise 6/6 · share 6/6 · mask 5/6 · unmask 5/5 (threshold 4, every tab)',
    );
    expect(secureStagesText({ stages: stages.slice(0, 2), threshold: 11, neighbours: 20, clampedShare: 0.0123 })).toBe(
      'advertise 6/6 · share 6/6 (threshold 11, 20 neighbours, 1.2% of coordinates clipped)',
    );
  });
});
