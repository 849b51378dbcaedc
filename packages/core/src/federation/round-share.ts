/**
 * One hub's share of a round across several hubs (design/scale-out.md §4.2): the float64 partial sum of its tabs'
 * deltas, and, per tab, what the coordinator needs to record and measure the round as one hub would: each trainer's
 * example count and loss, each evaluation, each failure. The sums travel as bytes (encodePartial); the rest as JSON,
 * checked here by schema, since it crossed a process boundary.
 */
import { z } from 'zod';
import type { EvaluateResult, FitBatch, FitFailure, Strategy } from '../aggregate/index.js';
import type { WeightedPartial } from '../aggregate/weighted-sum.js';
import { SECAGG_STAGES } from '../secagg/messages.js';
import type { RoundMetrics, SecureRoundReport } from '../protocol.js';

/** An evaluation as a round collects it: a trainer's own, or a held-out participant's. */
export type RoundEvaluation = EvaluateResult & { readonly heldOut: boolean };

/** Everything a hub's part of a round adds to the round, except the sums themselves. */
export interface RoundShareMeta {
  readonly results: readonly { participantId: string; numExamples: number; metrics: Record<string, number> }[];
  readonly evaluations: readonly RoundEvaluation[];
  readonly failures: readonly FitFailure[];
  readonly bytesUp: number;
  /**
   * A secure aggregation run: the hub's group as a whole is the one entry of `results` (its sums are the group's, and
   * no tab's count leaves the hub); these are the tabs in it.
   */
  readonly participants?: readonly string[];
  /** A secure aggregation run: the hub's group's stages and terms. */
  readonly secure?: SecureRoundReport;
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
  participants: z.array(id).max(MAX_SHARE_ENTRIES).optional(),
  secure: z
    .object({
      stages: z.array(
        z.object({ stage: z.enum(SECAGG_STAGES), asked: z.number().int().nonnegative(), answered: z.number().int().nonnegative() }),
      ),
      threshold: z.number().int().nonnegative(),
      neighbours: z.number().int().nonnegative().nullable(),
      clampedShare: z.number().min(0).max(1).nullable(),
    })
    .optional(),
});

/**
 * Adds hubs' shares to `fits` in the order given (callers sort them by hub, so float64 sums reproduce) and returns
 * what the round's record takes from them besides.
 */
export function combineShares(
  fits: FitBatch,
  shares: readonly RoundShare[],
): { failures: FitFailure[]; evaluations: RoundEvaluation[]; bytesUp: number; participants: string[]; secure: SecureRoundReport | null } {
  const failures: FitFailure[] = [];
  const evaluations: RoundEvaluation[] = [];
  const participants: string[] = [];
  let bytesUp = 0;
  for (const share of shares) {
    if (share.partial.count > 0) fits.addPartial(share.partial, share.results);
    failures.push(...share.failures);
    evaluations.push(...share.evaluations);
    participants.push(...(share.participants ?? share.results.map((r) => r.participantId)));
    bytesUp += share.bytesUp;
  }
  return { failures, evaluations, bytesUp, participants, secure: combineSecureReports(shares) };
}

/**
 * The hubs' secure aggregation groups as one report: tabs asked and answering per stage added up, the largest
 * threshold and neighbourhood any group used, and the clamped share averaged over every group's survivors.
 */
function combineSecureReports(shares: readonly RoundShare[]): SecureRoundReport | null {
  const reports = shares.flatMap((s) => (s.secure ? [{ report: s.secure, survivors: s.participants?.length ?? 0 }] : []));
  if (reports.length === 0) return null;
  const stages = SECAGG_STAGES.flatMap((stage) => {
    const reached = reports.flatMap(({ report }) => report.stages.filter((s) => s.stage === stage));
    return reached.length
      ? [{ stage, asked: reached.reduce((n, s) => n + s.asked, 0), answered: reached.reduce((n, s) => n + s.answered, 0) }]
      : [];
  });
  const clamped = reports.filter(({ report }) => report.clampedShare !== null);
  const survivors = clamped.reduce((n, r) => n + r.survivors, 0);
  const neighbours = reports.map(({ report }) => report.neighbours).filter((k): k is number => k !== null);
  return {
    stages,
    threshold: Math.max(...reports.map(({ report }) => report.threshold)),
    neighbours: neighbours.length ? Math.max(...neighbours) : null,
    clampedShare: survivors > 0 ? clamped.reduce((sum, { report, survivors: n }) => sum + report.clampedShare! * n, 0) / survivors : null,
  };
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
