import type { RoundSummary, RunSummary } from '@tabula/core/protocol';
import { RunConfigSchema, MNIST_MLP } from '@tabula/core/protocol';
import { describe, expect, it } from 'vitest';
import { comparison, runLabel } from './comparison.js';

const run = (id: string, overrides: object = {}): RunSummary => ({
  id,
  status: 'completed',
  config: RunConfigSchema.parse({
    algorithm: 'reptile',
    model: MNIST_MLP,
    rounds: 3,
    perRound: 2,
    scenario: { name: 'rotated', participants: 20, seed: 1 },
    ...overrides,
  }),
  createdAt: 0,
  updatedAt: 0,
  completedRounds: 3,
  error: null,
});
const round = (
  runId: string,
  n: number,
  heldOut: number | null,
  status: RoundSummary['status'] = 'completed',
  attempt = 1,
): RoundSummary => ({
  runId,
  round: n,
  attempt,
  status,
  reason: null,
  startedAt: 0,
  durationMs: 1,
  participants: [],
  failures: [],
  metrics: { loss: 1 / n, global: null, personalized: null, heldOutGlobal: null, heldOutPersonalized: heldOut },
  bytesUp: 0,
  bytesDown: 0,
});

describe('comparison', () => {
  it('aligns runs of different lengths on round numbers, with gaps where a run measured nothing', () => {
    // Prepare: run a has 3 rounds (held-out measured in 2 and 3; round 2 retried), run b 2 rounds.
    const a = {
      run: run('a'),
      rounds: [round('a', 1, null), round('a', 2, 0.1, 'failed'), round('a', 2, 0.5, 'completed', 2), round('a', 3, 0.7)],
    };
    const b = { run: run('b', { name: 'median run', aggregation: { kind: 'median' } }), rounds: [round('b', 1, 0.2), round('b', 2, 0.4)] };
    // Execute
    const result = comparison([a, b], 'heldOutPersonalized');
    // Assert
    expect(result.labels).toEqual([1, 2, 3]);
    expect(result.series).toEqual([
      { label: 'a (reptile, rotated)', values: [null, 0.5, 0.7] },
      { label: 'median run (reptile, median, rotated)', values: [0.2, 0.4, null] },
    ]);
    expect(comparison([a], 'loss').series[0]!.values).toEqual([1, 0.5, 1 / 3]);
  });

  it('names a run without a scenario by its own data', () => {
    expect(runLabel(run('c', { scenario: undefined, algorithm: 'fedavg' }))).toBe('c (fedavg)');
  });
});
