import type { RoundSummary } from '@tabula/core/protocol';
import { describe, expect, it } from 'vitest';
import { completedRounds, upsertRound } from './round-list.js';

function round(n: number, attempt: number, status: RoundSummary['status']): RoundSummary {
  return {
    runId: 'r1',
    round: n,
    attempt,
    status,
    reason: status === 'failed' ? 'too few participants' : null,
    startedAt: 0,
    durationMs: 10,
    participants: [],
    failures: [],
    metrics: { loss: null, global: null, personalized: null, heldOutGlobal: null, heldOutPersonalized: null },
    bytesUp: 0,
    bytesDown: 0,
  };
}

describe('completedRounds', () => {
  it('keeps one completed attempt per round, in round order, without failed attempts', () => {
    const rows = completedRounds([round(2, 1, 'failed'), round(1, 1, 'completed'), round(2, 2, 'completed'), round(3, 1, 'failed')]);
    expect(rows.map((r) => [r.round, r.attempt])).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });
});

describe('upsertRound', () => {
  it('replaces a summary of the same round and attempt', () => {
    const list = upsertRound([round(1, 1, 'failed')], round(1, 1, 'completed'));
    expect(list).toHaveLength(1);
    expect(list[0]?.status).toBe('completed');
    expect(upsertRound(list, round(1, 2, 'completed'))).toHaveLength(2);
  });
});
