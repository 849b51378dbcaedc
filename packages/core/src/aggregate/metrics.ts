/** A participant's metrics with the number of examples they were measured on. */
export interface WeightedMetrics {
  readonly numExamples: number;
  readonly metrics: Readonly<Record<string, number>>;
}

/**
 * Example-weighted mean of each metric. A metric missing from some results averages over those that have it; one
 * whose results all have 0 examples is left out. NaN and ±Infinity pass through (a diverged loss should show).
 */
export function weightedMetrics(results: readonly WeightedMetrics[]): Record<string, number> {
  const sums = new Map<string, { sum: number; weight: number }>();
  for (const [i, r] of results.entries()) {
    if (!Number.isFinite(r.numExamples) || r.numExamples < 0) {
      throw new RangeError(`weightedMetrics: result ${i} has numExamples ${r.numExamples}; it must be finite and >= 0`);
    }
    if (r.numExamples === 0) continue;
    for (const [name, value] of Object.entries(r.metrics)) {
      if (typeof value !== 'number') throw new TypeError(`weightedMetrics: result ${i} metric '${name}' is not a number`);
      const s = sums.get(name) ?? { sum: 0, weight: 0 };
      s.sum += r.numExamples * value;
      s.weight += r.numExamples;
      sums.set(name, s);
    }
  }
  const out: Record<string, number> = {};
  for (const [name, s] of sums) out[name] = s.sum / s.weight;
  return out;
}
