import type { RoundSummary, RunGuarantee, SecureRoundReport } from '@tabula/core/protocol';

/** δ as people write it: 1e-5, 0.001. */
export function formatDelta(delta: number): string {
  return delta < 1e-3 ? delta.toExponential() : String(delta);
}

/** ε to two decimals (0.004 stays visible as 0.004, not 0.00). */
export function formatEpsilon(epsilon: number): string {
  if (epsilon === 0) return '0';
  return epsilon < 0.01 ? String(Number(epsilon.toPrecision(1))) : epsilon.toFixed(2);
}

/** "(ε = 1.23, δ = 1e-5) after 12 rounds, budget 2": a DP run's guarantee so far. Pure: both pages use it. */
export function guaranteeText(guarantee: Pick<RunGuarantee, 'epsilon' | 'delta' | 'rounds' | 'epsilonBudget'>): string {
  const after = `after ${guarantee.rounds} round${guarantee.rounds === 1 ? '' : 's'}`;
  const budget = guarantee.epsilonBudget === null ? 'no budget' : `budget ${guarantee.epsilonBudget}`;
  return `(ε = ${formatEpsilon(guarantee.epsilon)}, δ = ${formatDelta(guarantee.delta)}) ${after}, ${budget}`;
}

/** A DP run's ε after each completed round, for the chart: x, ε, and the budget beside each point (null: none). */
export function epsilonSeries(
  rounds: readonly Pick<RoundSummary, 'round' | 'privacy'>[],
  budget: number | null,
): { x: number[]; epsilon: (number | null)[]; budget: (number | null)[] } {
  const x = rounds.map((r) => r.round);
  return { x, epsilon: rounds.map((r) => r.privacy?.epsilon ?? null), budget: x.map(() => budget) };
}

/**
 * "advertise 6/6 · share 6/6 · mask 5/6 · unmask 5/5": a secure aggregation attempt's tabs that answered of those asked,
 * stage by stage (a drop is a dropout), and its terms.
 */
export function secureStagesText(report: SecureRoundReport): string {
  const stages = report.stages.map((s) => `${s.stage} ${s.answered}/${s.asked}`).join(' · ');
  const graph = report.neighbours === null ? 'every tab' : `${report.neighbours} neighbours`;
  const clamped =
    report.clampedShare === null || report.clampedShare === 0
      ? ''
      : `, ${(100 * report.clampedShare).toPrecision(2)}% of coordinates clipped`;
  return `${stages} (threshold ${report.threshold}, ${graph}${clamped})`;
}
