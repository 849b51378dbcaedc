/**
 * One group's secure aggregation after its trainers finished (privacy.md §2.3): which tabs form the group, SecAgg's
 * complete graph or SecAgg+'s, the four stages, and the decoded figures of the survivors' sum. The round engine runs
 * one group per round on one hub; with several hubs each hub runs one among its own tabs and posts only the group's
 * figures (design/scale-out.md §4.6).
 */
import type { FitFailure } from '../aggregate/strategy.js';
import { PROTOCOL_VERSION, type Evaluation, type SecureAggregationConfig, type SecureRoundReport } from '../protocol.js';
import { secureFigures, type SecureFigures } from './contribution.js';
import { SECAGG_EXTRAS } from './messages.js';
import { runSecureRound, SecureRoundAbort, type SecAggAsk, type SecureRoundResult } from './secure-round.js';

/**
 * Secure aggregation without `neighbours`: every tab masks against every other in groups up to this size, since the
 * hub's cost of a dropout grows with the group (privacy.md §2.10: 9 s at 200 tabs and 10 % dropouts)...
 */
export const COMPLETE_GRAPH_UP_TO = 30;
/**
 * ...and against this many neighbours beyond it: with the majority threshold of 11, a 200-tab round with 10 % dropouts
 * in the stages aborts with probability 1.3e-4 (privacy.md §2.9's binomial tail).
 */
export const AUTO_NEIGHBOURS = 20;

export interface SecureGroupOptions {
  readonly runId: string;
  readonly round: number;
  readonly attempt: number;
  readonly modelVersion: number;
  /** Federated values per update. */
  readonly length: number;
  readonly terms: SecureAggregationConfig;
  /** The run's minimum of updates (the group needs at least this many, and terms.minSurvivors). */
  readonly minParticipants: number;
  readonly metric: Evaluation['metric'];
  /** Trainers that announced a trained update, in the order they did. */
  readonly finished: readonly string[];
  /** Asks a tab a stage's question; absent where no tab can be asked (then the group fails with the reason). */
  readonly ask: SecAggAsk | undefined;
  /** Tells a tab its part is over (the group is full, it dropped out, or the group aborted). */
  cancel(participantId: string, reason: string): void;
}

export type SecureGroupResult =
  | {
      readonly ok: true;
      /** Who sent a masked input: their updates are in the figures. */
      readonly survivors: readonly string[];
      readonly figures: SecureFigures;
      readonly failures: readonly FitFailure[];
      readonly report: SecureRoundReport;
      readonly bytesUp: number;
    }
  | { readonly ok: false; readonly reason: string; readonly failures: readonly FitFailure[]; readonly report?: SecureRoundReport };

export async function secureGroup(options: SecureGroupOptions): Promise<SecureGroupResult> {
  const { terms, finished, runId, round, attempt } = options;
  const failures: FitFailure[] = [];
  const needed = Math.max(options.minParticipants, terms.minSurvivors);
  if (finished.length < needed)
    return { ok: false, reason: `only ${finished.length} trained updates of the required ${needed} for secure aggregation`, failures };
  if (!options.ask) return { ok: false, reason: 'this hub cannot run secure aggregation', failures };
  // The group: the first maxGroup to finish. Index order is by id, which says nothing about when each finished.
  const group = finished.slice(0, terms.maxGroup).sort();
  const full = `the secure aggregation group is full (${terms.maxGroup} tabs)`;
  for (const id of finished.slice(terms.maxGroup)) {
    failures.push({ participantId: id, reason: full });
    options.cancel(id, full);
  }
  const n = group.length;
  // Without a graph configured, SecAgg's complete graph up to a point, then SecAgg+ (privacy.md §2.9).
  const wanted = terms.neighbours ?? (terms.threshold === undefined && n > COMPLETE_GRAPH_UP_TO ? AUTO_NEIGHBOURS : undefined);
  const degree = wanted !== undefined && wanted < n - 1 ? wanted : undefined;
  const holders = (degree ?? n - 1) + 1;
  const threshold = terms.threshold ?? Math.floor(holders / 2) + 1;
  const report = (stages: SecureRoundResult['stages'], clampedShare: number | null): SecureRoundReport => ({
    stages,
    threshold,
    neighbours: degree ?? null,
    clampedShare,
  });
  if (threshold > holders)
    return { ok: false, reason: `threshold ${threshold} exceeds the ${holders} holders of each secret in a group of ${n}`, failures };
  const random = globalThis.crypto.getRandomValues(new Uint32Array(3));
  let result: SecureRoundResult;
  try {
    result = await runSecureRound({
      runId,
      round,
      modelVersion: options.modelVersion,
      protocolVersion: PROTOCOL_VERSION,
      sessionId: `${round}.${attempt}.${random[0]!.toString(36)}${random[1]!.toString(36)}`,
      roster: group,
      threshold,
      ...(degree !== undefined ? { graph: { degree, seed: random[2]! >>> 1 } } : {}),
      words: options.length + SECAGG_EXTRAS,
      stageTimeoutMs: terms.stageTimeoutMs,
      minSurvivors: terms.minSurvivors,
      ask: options.ask,
    });
  } catch (error) {
    if (!(error instanceof SecureRoundAbort)) throw error;
    failures.push(...error.dropouts);
    for (const id of group) options.cancel(id, `secure aggregation aborted: ${error.message}`);
    return {
      ok: false,
      reason: `secure aggregation aborted (${error.code}): ${error.message}`,
      failures,
      report: report(error.stages, null),
    };
  }
  failures.push(...result.dropouts);
  for (const { participantId, reason } of result.dropouts) options.cancel(participantId, reason);
  let figures: SecureFigures;
  try {
    figures = secureFigures(result.total, options.length, terms, result.survivors.length, options.metric);
  } catch (error) {
    // A malformed weight from some tab: nothing of the total is released.
    return {
      ok: false,
      reason: `secure aggregation: ${error instanceof Error ? error.message : String(error)}`,
      failures,
      report: report(result.stages, null),
    };
  }
  return {
    ok: true,
    survivors: result.survivors,
    figures,
    failures,
    report: report(result.stages, figures.clampedShare),
    bytesUp: result.bytesUp,
  };
}
