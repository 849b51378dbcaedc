import { FedAvgStrategy, TrimmedMeanStrategy, type Strategy } from '../aggregate/index.js';
import type { RunConfig } from '../protocol.js';

/**
 * The strategy a run configures: participant selection, who evaluates when (every `evaluateEvery` rounds and the
 * last), the aggregation rule and the server optimizer (hub and simulation alike).
 */
export function strategyFor(config: RunConfig): Strategy {
  const options = {
    seed: config.seed,
    ...(config.perRound !== undefined ? { perRound: config.perRound } : { fraction: config.fraction }),
    minFit: config.minParticipants,
    optimizer: config.server,
    evaluation: { every: config.evaluateEvery, lastRound: config.rounds },
  };
  const aggregation = config.aggregation;
  switch (aggregation.kind) {
    case 'fedavg':
      return new FedAvgStrategy(options);
    case 'trimmed-mean':
      return new TrimmedMeanStrategy({ ...options, trim: aggregation.trim });
    case 'median':
      return new TrimmedMeanStrategy({ ...options, trim: 'median' });
    default: {
      const never: never = aggregation;
      throw new Error(`unknown aggregation ${JSON.stringify(never)}`);
    }
  }
}
