import type { PublicRoundSummary } from '../protocol.js';

const COLUMNS = [
  'run_id',
  'round',
  'attempt',
  'status',
  'started_at',
  'duration_ms',
  'participants',
  'failures',
  'loss',
  'global',
  'personalized',
  'held_out_global',
  'held_out_personalized',
  'bytes_up',
  'bytes_down',
  'epsilon',
  'reason',
] as const;

/** RFC 4180: quote a field that holds a comma, a quote or a line break, doubling its quotes. */
function field(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * A run's rounds as CSV, one line per attempt (failed attempts included, with their reason), for plotting
 * elsewhere. Metrics are accuracy (MSE for regression); blank where nobody evaluated that round. epsilon: a differentially
 * private run's ε after the round (blank otherwise). Times, counts, bytes and metrics a view withholds (a private run's, without
 * the admin token: see publicRound) are blank too.
 */
export function roundsCsv(rounds: readonly PublicRoundSummary[]): string {
  const lines = rounds.map((r) =>
    [
      r.runId,
      r.round,
      r.attempt,
      r.status,
      r.startedAt === null ? null : new Date(r.startedAt).toISOString(),
      r.durationMs === null ? null : Math.round(r.durationMs),
      r.participantCount,
      r.failureCount,
      r.metrics?.loss ?? null,
      r.metrics?.global ?? null,
      r.metrics?.personalized ?? null,
      r.metrics?.heldOutGlobal ?? null,
      r.metrics?.heldOutPersonalized ?? null,
      r.bytesUp,
      r.bytesDown,
      r.privacy?.epsilon ?? null,
      r.reason,
    ]
      .map(field)
      .join(','),
  );
  return `${[COLUMNS.join(','), ...lines].join('\r\n')}\r\n`;
}
