/** One participant's contribution to weighted FedAvg. */
export interface FedAvgUpdate {
  readonly delta: Float32Array;
  readonly numExamples: number;
}

/**
 * Weighted FedAvg (McMahan et al. 2017): `Σ nᵢ·Δᵢ / Σ nᵢ`. The reference definition, written independently of the
 * streaming `WeightedSum` that the hub uses, so each checks the other in tests.
 */
export function fedAvg(updates: readonly FedAvgUpdate[]): Float32Array {
  const first = updates[0];
  if (first === undefined) throw new Error('fedAvg: needs at least one update');
  const length = first.delta.length;
  let total = 0;
  for (const [i, u] of updates.entries()) {
    if (u.delta.length !== length) {
      throw new RangeError(`fedAvg: update ${i} has ${u.delta.length} parameters, expected ${length}`);
    }
    if (!Number.isFinite(u.numExamples) || u.numExamples <= 0) {
      throw new RangeError(`fedAvg: update ${i} has numExamples ${u.numExamples}; it must be positive and finite`);
    }
    total += u.numExamples;
  }
  const acc = new Float64Array(length);
  for (const u of updates) {
    const coef = u.numExamples / total;
    for (let j = 0; j < length; j++) acc[j] = (acc[j] as number) + coef * (u.delta[j] as number);
  }
  return Float32Array.from(acc);
}
