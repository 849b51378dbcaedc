import { describe, expect, it } from 'vitest';
import type { RoundSummary } from '../protocol.js';
import { publicRound } from './public-round.js';
import { roundsCsv } from './rounds-csv.js';

const round = (overrides: Partial<RoundSummary>): RoundSummary => ({
  runId: 'run-1',
  round: 1,
  attempt: 1,
  status: 'completed',
  reason: null,
  startedAt: Date.UTC(2026, 10, 24, 12, 0, 0),
  durationMs: 1234.4,
  participants: ['a', 'b'],
  failures: [],
  metrics: { loss: 0.5, global: 0.25, personalized: 0.75, heldOutGlobal: null, heldOutPersonalized: null },
  bytesUp: 100,
  bytesDown: 200,
  ...overrides,
});

describe('roundsCsv', () => {
  it('writes a header and one line per attempt, blanks for metrics nobody measured, and quotes reasons', () => {
    // Execute
    const csv = roundsCsv(
      [
        round({}),
        round({ round: 3, privacy: { epsilon: 1.25, delta: 1e-5, order: 12, samplingRate: 0.1 } }),
        round({
          round: 2,
          status: 'failed',
          participants: [],
          failures: [{ participantId: 'a', reason: 'x' }],
          reason: 'too few updates: 1 of 2, "min" 2',
          metrics: { loss: null, global: null, personalized: null, heldOutGlobal: null, heldOutPersonalized: null },
        }),
      ].map((r) => publicRound(r, false)),
    );
    // Assert
    expect(csv.split('\r\n')).toEqual([
      'run_id,round,attempt,status,started_at,duration_ms,participants,failures,loss,global,personalized,held_out_global,held_out_personalized,bytes_up,bytes_down,epsilon,reason',
      'run-1,1,1,completed,2026-11-24T12:00:00.000Z,1234,2,0,0.5,0.25,0.75,,,100,200,,',
      'run-1,3,1,completed,2026-11-24T12:00:00.000Z,1234,2,0,0.5,0.25,0.75,,,100,200,1.25,',
      'run-1,2,1,failed,2026-11-24T12:00:00.000Z,1234,0,1,,,,,,100,200,,"too few updates: 1 of 2, ""min"" 2"',
      '',
    ]);
  });

  it('leaves times, counts, metrics and bytes blank where a private run withholds them, and keeps ε', () => {
    const csv = roundsCsv([publicRound(round({ privacy: { epsilon: 0.5, delta: 1e-5, order: 9, samplingRate: 0.2 } }), true)]);
    expect(csv.split('\r\n')[1]).toBe('run-1,1,1,completed,,,,,,,,,,,,0.5,');
  });

  it('is just the header for a run without rounds', () => {
    expect(roundsCsv([])).toBe(
      'run_id,round,attempt,status,started_at,duration_ms,participants,failures,loss,global,personalized,held_out_global,held_out_personalized,bytes_up,bytes_down,epsilon,reason\r\n',
    );
  });
});
