export { WeightedSum, type Accumulator } from './weighted-sum';
export { FitBatch, type FitResult } from './fit-batch';
export { fedAvg, type FedAvgUpdate } from './fedavg';
export { l2Norm, clipToNorm } from './norm';
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
} from './server-optimizer';
export { selectParticipants, fitCount, validateSelectionOptions, type SelectionOptions } from './select';
export { weightedMetrics, type WeightedMetrics } from './metrics';
export { TrimmedMeanAccumulator } from './trimmed-mean';
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
} from './strategy';
