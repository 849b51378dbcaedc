import type { RoundMetrics, RoundSummary, RunSummary } from '@tabula/core/protocol';
import { completedRounds } from './round-list.js';

/** The per-round figures two runs can be compared on. */
export const COMPARABLE = [
  { key: 'heldOutPersonalized', label: 'held-out personalized' },
  { key: 'heldOutGlobal', label: 'held-out global' },
  { key: 'personalized', label: 'personalized (trainers)' },
  { key: 'global', label: 'global (trainers)' },
  { key: 'loss', label: 'training loss' },
] as const satisfies readonly { key: keyof RoundMetrics; label: string }[];
export type ComparableKey = (typeof COMPARABLE)[number]['key'];

export interface RunWithRounds {
  readonly run: RunSummary;
  readonly rounds: readonly RoundSummary[];
}

/** How a run is named in a comparison: its name or id, and what distinguishes runs most often. */
export function runLabel(run: RunSummary): string {
  const c = run.config;
  const aggregation = c.aggregation && c.aggregation.kind !== 'fedavg' ? `, ${c.aggregation.kind}` : '';
  return `${c.name || run.id} (${c.algorithm}${aggregation}${c.scenario ? `, ${c.scenario.name}` : ''})`;
}

/**
 * One series per run on a shared x axis (every round number any of them completed); a run that did not measure
 * the figure in a round (held-out metrics come only every evaluateEvery rounds) has null there.
 */
export function comparison(
  runs: readonly RunWithRounds[],
  key: ComparableKey,
): { labels: number[]; series: { label: string; values: (number | null)[] }[] } {
  const done = runs.map((r) => ({
    run: r.run,
    byRound: new Map(completedRounds(r.rounds).map((round) => [round.round, round.metrics[key]])),
  }));
  const labels = [...new Set(done.flatMap((d) => [...d.byRound.keys()]))].sort((a, b) => a - b);
  return { labels, series: done.map((d) => ({ label: runLabel(d.run), values: labels.map((x) => d.byRound.get(x) ?? null) })) };
}
