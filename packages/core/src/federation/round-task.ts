import type { RoundTask, RunConfig } from '../protocol.js';
import { deriveSeed } from '../rng.js';

/** Where one round's tasks point: its run, round and model version, deadline, and whether it evaluates. */
export interface RoundAddress {
  readonly runId: string;
  readonly round: number;
  readonly modelVersion: number;
  readonly deadline: number;
  /** Whether trainers evaluate (before and after adaptation) before they train: the strategy decides. */
  readonly evaluate: boolean;
}

/**
 * The task one participant gets in one round. Its minibatch seed derives from the run seed, the round and the
 * participant, so a rerun of the same configuration samples the same batches (hub and simulation alike).
 */
export function roundTask(config: RunConfig, round: RoundAddress, participant: string | number, mode: RoundTask['mode']): RoundTask {
  return {
    runId: round.runId,
    round: round.round,
    modelVersion: round.modelVersion,
    mode,
    evaluate: round.evaluate,
    algorithm: config.algorithm,
    model: config.model,
    hyper: config.client,
    codec: config.codec,
    seed: deriveSeed(config.seed, 'client', round.round, participant),
    deadline: round.deadline,
    ...(config.privacy ? { clip: config.privacy.clip } : {}),
    ...(config.secureAggregation
      ? {
          secureAggregation: {
            clip: config.secureAggregation.clip,
            maxGroup: config.secureAggregation.maxGroup,
            maxExamples: config.secureAggregation.maxExamples,
          },
        }
      : {}),
  };
}
