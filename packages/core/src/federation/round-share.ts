/**
 * One hub's share of a round across several hubs (design/scale-out.md §4.2): the float64 partial sum of its tabs'
 * deltas, and, per tab, what the coordinator needs to record and measure the round as one hub would: each trainer's
 * example count and loss, each evaluation, each failure. The sums travel as bytes (encodePartial); the rest as JSON,
 * checked here by schema, since it crossed a process boundary.
 */
import { z } from 'zod';
import type { EvaluateResult, FitBatch, FitFailure, Strategy } from '../aggregate/index.js';
import type { WeightedPartial } from '../aggregate/weighted-sum.js';
import type { RoundMetrics } from '../protocol.js';

/** An evaluation as a round collects it: a trainer's own, or a held-out participant's. */
export type RoundEvaluation = EvaluateResult & { readonly heldOut: boolean };

/** Everything a hub's part of a round adds to the round, except the sums themselves. */
export interface RoundShareMeta {
  readonly results: readonly { participantId: string; numExamples: number; metrics: Record<string, number> }[];
  readonly evaluations: readonly RoundEvaluation[];
  readonly failures: readonly FitFailure[];
  readonly bytesUp: number;
}

export interface RoundShare extends RoundShareMeta {
  readonly partial: WeightedPartial;
}

const id = z.string().min(1).max(128);
const metrics = z.record(z.string().max(32), z.number());
/** Bounded like any payload: a share lists at most every tab of a hub. */
const MAX_SHARE_ENTRIES = 100_000;

export const RoundShareMetaSchema = z.object({
  results: z.array(z.object({ participantId: id, numExamples: z.number().positive().finite(), metrics })).max(MAX_SHARE_ENTRIES),
  evaluations: z
    .array(z.object({ participantId: id, numExamples: z.number().nonnegative().finite(), metrics, heldOut: z.boolean() }))
    .max(MAX_SHARE_ENTRIES),
  failures: z.array(z.object({ participantId: id, reason: z.string().max(1000) })).max(MAX_SHARE_ENTRIES),
  bytesUp: z.number().int().nonnegative(),
});

/**
 * Adds hubs' shares to `fits` in the order given (callers sort them by hub, so float64 sums reproduce) and returns
 * what the round's record takes from them besides.
 */
export function combineShares(
  fits: FitBatch,
  shares: readonly RoundShare[],
): { failures: FitFailure[]; evaluations: RoundEvaluation[]; bytesUp: number } {
  const failures: FitFailure[] = [];
  const evaluations: RoundEvaluation[] = [];
  let bytesUp = 0;
  for (const share of shares) {
    fits.addPartial(share.partial, share.results);
    failures.push(...share.failures);
    evaluations.push(...share.evaluations);
    bytesUp += share.bytesUp;
  }
  return { failures, evaluations, bytesUp };
}

/** A round's metrics: example-weighted means over what arrived, trainers and held-out participants separately. */
export function roundMetrics(
  strategy: Strategy,
  round: number,
  results: readonly EvaluateResult[],
  evaluations: readonly RoundEvaluation[],
): RoundMetrics {
  const trainers = strategy.aggregateEvaluate(
    round,
    evaluations.filter((e) => !e.heldOut),
  );
  const heldOut = strategy.aggregateEvaluate(
    round,
    evaluations.filter((e) => e.heldOut),
  );
  const loss = strategy.aggregateEvaluate(round, results).loss;
  return {
    loss: loss ?? null,
    global: trainers.before ?? null,
    personalized: trainers.after ?? null,
    heldOutGlobal: heldOut.before ?? null,
    heldOutPersonalized: heldOut.after ?? null,
  };
}
