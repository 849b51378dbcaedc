import type { RoundSummary } from '@tabula/core/protocol';

/** Completed attempts, one per round number (a retried round keeps its last completed attempt), in order. */
export function completedRounds(rounds: readonly RoundSummary[]): RoundSummary[] {
  const byRound = new Map<number, RoundSummary>();
  for (const r of rounds) {
    if (r.status !== 'completed') continue;
    const seen = byRound.get(r.round);
    if (!seen || r.attempt >= seen.attempt) byRound.set(r.round, r);
  }
  return [...byRound.values()].sort((a, b) => a.round - b.round);
}

/** Adds or replaces (same round and attempt) one round summary as it arrives live. */
export function upsertRound(rounds: readonly RoundSummary[], round: RoundSummary): RoundSummary[] {
  return [...rounds.filter((r) => !(r.round === round.round && r.attempt === round.attempt)), round];
}
