import { describe, expect, it } from 'vitest';
import { guaranteeLine, parseGuarantee } from './guarantee-view.js';

const GUARANTEE = { runId: 'run-1', status: 'running', epsilon: 1.234, delta: 1e-5, rounds: 12, epsilonBudget: 2 } as const;

describe('the tab’s guarantee line', () => {
  it('says the running run’s guarantee so far', () => {
    expect(guaranteeLine(parseGuarantee(GUARANTEE))).toMatch(
      /^This run's guarantee so far: \(ε = 1\.23, δ = 1e-5\) after 12 rounds, budget 2\./,
    );
  });

  it('says a finished run’s status, and nothing without a DP run', () => {
    expect(guaranteeLine(parseGuarantee({ ...GUARANTEE, status: 'completed' }))).toMatch(/^This run's guarantee \(run completed\): /);
    expect(guaranteeLine(parseGuarantee(null))).toBeNull();
  });

  it('refuses an answer that is not a guarantee', () => {
    expect(() => parseGuarantee({ ...GUARANTEE, epsilon: -1 })).toThrow();
    expect(() => parseGuarantee({ runId: 'run-1' })).toThrow();
  });
});
