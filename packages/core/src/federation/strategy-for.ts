import { DpFedAvgStrategy } from '../aggregate/dp-fedavg.js';
import { FedAvgStrategy, TrimmedMeanStrategy, type Strategy } from '../aggregate/index.js';
import type { RandomSource } from '../privacy/random-source.js';
import type { RunConfig } from '../protocol.js';

/**
 * The strategy a run configures: participant selection, who evaluates when (every `evaluateEvery` rounds and the
 * last), the aggregation rule and the server optimizer (hub and simulation alike). A differentially private run gets
 * DP-FedAvg, whose secret randomness is the platform CSPRNG unless `secret.random` replaces it (tests).
 */
export function strategyFor(config: RunConfig, secret: { random?: RandomSource } = {}): Strategy {
  if (config.privacy) {
    // The schema allows only fedavg with privacy; sampling and noise come from secret randomness, never config.seed.
    return new DpFedAvgStrategy({
      privacy: config.privacy,
      optimizer: config.server,
      evaluation: { every: config.evaluateEvery, lastRound: config.rounds },
      ...(secret.random ? { random: secret.random } : {}),
    });
  }
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
