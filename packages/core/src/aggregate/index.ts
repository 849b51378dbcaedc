export { WeightedSum, decodePartial, encodePartial, type Accumulator, type WeightedPartial } from './weighted-sum.js';
export { FitBatch, type FitResult } from './fit-batch.js';
export { fedAvg, type FedAvgUpdate } from './fedavg.js';
export { l2Norm, clipToNorm } from './norm.js';
export {
  createServerOptimizer,
  validateServerOptimizerConfig,
  DEFAULT_SGD,
  DEFAULT_FEDAVGM,
  DEFAULT_FEDADAM,
  SERVER_OPTIMIZER_DEFAULTS,
  type ServerOptimizer,
  type ServerOptimizerConfig,
  type ServerOptimizerKind,
  type ServerOptimizerState,
  type SgdConfig,
  type FedAvgMConfig,
  type FedAdamConfig,
} from './server-optimizer.js';
export { selectParticipants, fitCount, validateSelectionOptions, type SelectionOptions } from './select.js';
export { weightedMetrics, type WeightedMetrics } from './metrics.js';
export { TrimmedMeanAccumulator } from './trimmed-mean.js';
export {
  FedAvgStrategy,
  TrimmedMeanStrategy,
  type Strategy,
  type StrategyState,
  type EvaluationSchedule,
  type FitFailure,
  type EvaluateResult,
  type FedAvgStrategyOptions,
  type TrimmedMeanStrategyOptions,
} from './strategy.js';
