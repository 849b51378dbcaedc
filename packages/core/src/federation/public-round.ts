import type { PublicRoundSummary, RoundSummary, RunGuarantee, RunSummary } from '../protocol.js';

/**
 * `round` without participant ids or per-participant failures; `privateRun` (a differentially private run) also
 * withholds the counts, bytes and metrics (see PublicRoundSummary). The admin's rounds.csv uses it with `false`.
 */
export function publicRound(round: RoundSummary, privateRun: boolean): PublicRoundSummary {
  const { participants, failures, metrics, bytesUp, bytesDown, startedAt, durationMs, ...rest } = round;
  return {
    ...rest,
    startedAt: privateRun ? null : startedAt,
    durationMs: privateRun ? null : durationMs,
    participantCount: privateRun ? null : participants.length,
    failureCount: privateRun ? null : failures.length,
    metrics: privateRun ? null : metrics,
    bytesUp: privateRun ? null : bytesUp,
    bytesDown: privateRun ? null : bytesDown,
  };
}

/**
 * A differentially private run's (ε, δ) after its last committed round (ε 0 before the first); null for a run
 * without privacy. `rounds` are the run's attempts in any order.
 */
export function runGuarantee(run: RunSummary, rounds: readonly Pick<RoundSummary, 'round' | 'status' | 'privacy'>[]): RunGuarantee | null {
  const privacy = run.config.privacy;
  if (!privacy) return null;
  let last: Pick<RoundSummary, 'round' | 'privacy'> | null = null;
  for (const r of rounds) if (r.status === 'completed' && r.privacy && (!last || r.round > last.round)) last = r;
  return {
    runId: run.id,
    status: run.status,
    epsilon: last?.privacy?.epsilon ?? 0,
    delta: last?.privacy?.delta ?? privacy.delta,
    rounds: last?.round ?? 0,
    epsilonBudget: privacy.epsilonBudget ?? null,
  };
}
