import { describe, expect, it } from 'vitest';
import { RunConfigSchema, type RoundSummary, type RunSummary } from '../protocol.js';
import { publicRound, runGuarantee } from './public-round.js';

const round = (overrides: Partial<RoundSummary> = {}): RoundSummary => ({
  runId: 'run-1',
  round: 1,
  attempt: 1,
  status: 'completed',
  reason: null,
  startedAt: 0,
  durationMs: 10,
  participants: ['tab-a', 'tab-b'],
  failures: [{ participantId: 'tab-c', reason: 'deadline passed' }],
  metrics: { loss: 0.5, global: 0.25, personalized: 0.75, heldOutGlobal: null, heldOutPersonalized: null },
  bytesUp: 100,
  bytesDown: 200,
  ...overrides,
});

const PRIVACY = { mode: 'central', clip: 1, noiseMultiplier: 1, samplingRate: 0.5, delta: 1e-5, epsilonBudget: 2 } as const;
const run = (privacy: boolean): RunSummary => ({
  id: 'run-1',
  status: 'running',
  config: RunConfigSchema.parse({
    algorithm: 'fedavg',
    model: { kind: 'mlp', inputShape: [2], hidden: [], outputs: 2, task: 'classification' },
    rounds: 10,
    ...(privacy ? { privacy: PRIVACY } : {}),
  }),
  createdAt: 0,
  updatedAt: 0,
  completedRounds: 0,
  error: null,
});

describe('publicRound', () => {
  it('shows counts but no participant ids or failures in a run without privacy', () => {
    const shown = publicRound(round(), false);
    expect(JSON.stringify(shown)).not.toMatch(/tab-/);
    expect(shown).toMatchObject({ participantCount: 2, failureCount: 1, bytesUp: 100, bytesDown: 200, metrics: { loss: 0.5 } });
  });

  it('withholds counts, bytes, metrics and times of a private run but keeps its ε', () => {
    const privacy = { epsilon: 0.7, delta: 1e-5, order: 12, samplingRate: 0.5 };
    const shown = publicRound(round({ privacy }), true);
    expect(JSON.stringify(shown)).not.toMatch(/tab-/);
    expect(shown).toMatchObject({ participantCount: null, failureCount: null, bytesUp: null, bytesDown: null, metrics: null, privacy });
    // The duration times the slowest sampled participant; round starts would give the durations away too.
    expect(shown).toMatchObject({ startedAt: null, durationMs: null });
    expect(publicRound(round(), false)).toMatchObject({ startedAt: round().startedAt, durationMs: round().durationMs });
  });
});

describe('runGuarantee', () => {
  it('is null for a run without privacy', () => {
    expect(runGuarantee(run(false), [round()])).toBeNull();
  });

  it('is ε 0 after no rounds, then the ε of the last committed round, skipping failed attempts', () => {
    expect(runGuarantee(run(true), [])).toEqual({
      runId: 'run-1',
      status: 'running',
      epsilon: 0,
      delta: 1e-5,
      rounds: 0,
      epsilonBudget: 2,
    });
    const rounds = [
      round({ round: 2, privacy: { epsilon: 0.9, delta: 1e-5, order: 10, samplingRate: 0.5 } }),
      round({ round: 1, privacy: { epsilon: 0.6, delta: 1e-5, order: 12, samplingRate: 0.5 } }),
      round({ round: 3, status: 'failed', reason: 'x' }),
    ];
    expect(runGuarantee(run(true), rounds)).toMatchObject({ epsilon: 0.9, rounds: 2, epsilonBudget: 2 });
  });
});
